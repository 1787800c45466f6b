"""States, platforms and kinds of input as choices, and the rules that are data."""

from django.db import models


class JobState(models.TextChoices):
    UNKNOWN = "UNKNOWN"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    MERGING_QUEUED = "MERGING_QUEUED"
    MERGING_RUNNING = "MERGING_RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class Platform(models.TextChoices):
    DIRECT = "DIRECT"
    BATCH = "BATCH"


class InputType(models.TextChoices):
    EDITOR = "EDITOR"
    FILES = "FILES"


class SimType(models.TextChoices):
    SHIELDHIT = "shieldhit"
    FLUKA = "fluka"
    TOPAS = "topas"
    DUMMY = "dummy"


TERMINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELED})
UNFINISHED_STATES = frozenset(JobState) - TERMINAL_STATES
CANCELABLE_STATES = UNFINISHED_STATES
DELETABLE_STATES = TERMINAL_STATES
# A job waits for its merge in these states, once all its tasks ended; only then can the merge step (our own,
# or a batch job's collect job) set one of MERGE_OUTCOME_STATES. The other states follow from the task states.
MERGING_STATES = frozenset({JobState.MERGING_QUEUED, JobState.MERGING_RUNNING})
MERGE_OUTCOME_STATES = frozenset({JobState.MERGING_RUNNING, JobState.COMPLETED, JobState.FAILED})

# A job or task never moves to a lower rank; terminal states share the top rank and are final.
STATE_RANK = {
    JobState.UNKNOWN: 0,
    JobState.PENDING: 1,
    JobState.RUNNING: 2,
    JobState.MERGING_QUEUED: 3,
    JobState.MERGING_RUNNING: 4,
    JobState.COMPLETED: 5,
    JobState.FAILED: 5,
    JobState.CANCELED: 5,
}
