"""The import's rules on legacy rows, without a database: usernames, payloads, duplicates, logs, closing."""

import gzip
import json
from datetime import UTC, datetime

import orjson

from legacy.mapping import checked_payload, plan_simulations, username_candidate, username_with_suffix
from legacy.report import ImportReport
from legacy.source import SimulationRows
from simulations.payloads import decode

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def gz(data):
    return gzip.compress(json.dumps(data).encode(), compresslevel=9)


def test_usernames_the_new_system_cannot_sign_in_with_are_renamed():
    assert username_candidate("  padded ", 3) == "padded"
    assert username_candidate("", 7) == "yaptide-user-7"
    assert username_candidate("   ", 7) == "yaptide-user-7"
    assert username_candidate("y" * 180, 1) == "y" * 150
    assert username_candidate("Zoë 🚀", 1) == "Zoë 🚀"
    assert username_with_suffix("y" * 150, 12) == "y" * 147 + "-12"


def test_payloads_are_kept_as_stored_unless_they_hold_nan():
    blob = gz({"values": [1.0, 2.5]})
    assert checked_payload(blob) == (blob, "ok")
    fixed, status = checked_payload(gz({"values": [1.0, float("nan"), float("inf"), float("-inf")], "name": "NaN"}))
    assert status == "nonfinite"
    assert decode(fixed) == {"values": [1.0, None, None, None], "name": "NaN"}
    assert checked_payload(b"\x1f\x8bnot gzip")[1] == "unreadable"
    assert checked_payload(None) == (None, "ok")


def simulation(**fields):
    row = dict(
        id=1,
        job_id="20240101-000000-abcDIRECT",
        user_id=1,
        start_time=NOW,
        end_time=None,
        title="",
        platform="DIRECT",
        input_type="FILES",
        sim_type="shieldhit",
        job_state="COMPLETED",
        merge_id=None,
        cluster_id=None,
        job_dir=None,
        array_id=None,
        collect_id=None,
    )
    return row | fields


def task(id, task_id, state, **fields):
    row = dict(
        id=id,
        simulation_id=1,
        task_id=task_id,
        requested_primaries=10,
        simulated_primaries=0,
        task_state=state,
        estimated_time=None,
        start_time=None,
        end_time=None,
        platform="DIRECT",
        last_update_time=NOW,
        celery_id="",
    )
    return row | fields


def page(id, estimator_id, number, data):
    return dict(
        id=id,
        estimator_id=estimator_id,
        page_number=number,
        page_name="DOSE",
        page_dimension=1,
        compressed_data=None if data is None else gz(data),
    )


def test_unfinished_jobs_are_closed_with_a_log_naming_the_old_states():
    report = ImportReport(source="x", dry_run=True)
    rows = SimulationRows(
        [simulation(job_state="RUNNING")],
        [task(1, 0, "RUNNING"), task(2, 1, "COMPLETED"), task(3, 5, "PENDING")],
        [],
        [],
        [],
        [dict(id=9, simulation_id=1, compressed_data=gz({"import_yaptide.log": "older"}))],
    )

    [planned] = plan_simulations(rows, report, NOW)

    assert planned.job_state == "CANCELED"
    assert [(t.task_id, t.task_state) for t in planned.tasks] == [(0, "CANCELED"), (1, "COMPLETED"), (5, "CANCELED")]
    logs = decode(planned.logfiles[1])
    assert logs["import_yaptide.log"] == "older"
    assert "The job was RUNNING in yaptide" in logs["import_yaptide.log~2"]
    assert "Task 5 was PENDING" in logs["import_yaptide.log~2"]
    assert report.events["simulations_closed"][0]["tasks"] == {0: "RUNNING", 5: "PENDING"}


def test_duplicate_estimators_keep_the_one_with_pages_and_unite_pages():
    report = ImportReport(source="x", dry_run=True)
    estimators = [
        dict(id=10, simulation_id=1, name="a", file_name="a_", compressed_data=None),
        dict(id=11, simulation_id=1, name="b", file_name="b_", compressed_data=None),
        dict(id=12, simulation_id=1, name="a", file_name="a_", compressed_data=gz({"k": "v"})),
        dict(id=13, simulation_id=1, name="a", file_name="a_", compressed_data=None),
    ]
    pages = [
        page(1, 12, 0, {"p": 0}),
        page(2, 12, 1, None),
        page(3, 13, 1, {"p": "1 from 13"}),
        page(4, 13, 2, {"p": 2}),
    ]
    rows = SimulationRows([simulation()], [], [], estimators, pages, [])

    [planned] = plan_simulations(rows, report, NOW)

    assert [(e.legacy_id, e.name, e.position) for e in planned.estimators] == [(12, "a", 0), (11, "b", 1)]
    kept = planned.estimators[0]
    assert [(p.page_number, p.legacy_id) for p in kept.pages] == [(0, 1), (1, 3), (2, 4)]
    assert report.events["estimators_merged"] == [
        {
            "job_id": "20240101-000000-abcDIRECT",
            "file_name": "a_",
            "kept": 12,
            "dropped": [10, 13],
            "pages_added": [1, 2],
        }
    ]
    assert orjson.loads(gzip.decompress(kept.pages[1].compressed_data)) == {"p": "1 from 13"}
