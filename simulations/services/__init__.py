"""Every write with a rule, by section: update keys, submit, task and simulation updates, results and logfiles,
and the job's lifecycle (dispatch, merge outcome, cancel, delete, task removal). Re-exported here."""

from .keys import update_key_issue, update_key_matches
from .lifecycle import (
    simulation_cancel,
    simulation_delete,
    simulation_dispatch,
    simulation_merge_fail,
    simulation_merge_finish,
    simulation_merge_resend,
    simulation_merge_start,
    task_remove,
)
from .results import logfiles_store, results_store
from .submit import job_id_new, simulation_submit
from .updates import (
    TaskClaim,
    TaskUpdate,
    simulation_apply_update,
    task_apply_update,
    task_claim,
    task_claim_for_run,
    task_fail,
    tasks_fail_stale,
    tasks_redispatch_lost,
)

__all__ = [
    "TaskClaim",
    "TaskUpdate",
    "job_id_new",
    "logfiles_store",
    "results_store",
    "simulation_apply_update",
    "simulation_cancel",
    "simulation_delete",
    "simulation_dispatch",
    "simulation_merge_fail",
    "simulation_merge_finish",
    "simulation_merge_resend",
    "simulation_merge_start",
    "simulation_submit",
    "task_apply_update",
    "task_claim",
    "task_claim_for_run",
    "task_fail",
    "task_remove",
    "tasks_fail_stale",
    "tasks_redispatch_lost",
    "update_key_issue",
    "update_key_matches",
]
