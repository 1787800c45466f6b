"""manage.py import_yaptide on yaptide databases of both schema variants with every case of the legacy README,
checked through the API, the login endpoint and the admin."""

import gzip
import io
import json
import math
import uuid
from datetime import datetime

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import KeycloakUser, User, YaptideUser
from clusters.models import Cluster
from legacy import load
from legacy.mapping import PLACEHOLDER_USERNAME
from legacy.models import ImportedUser, ImportState
from legacy.source import LegacySource
from simulations.models import CelerySimulation, Estimator, Page, Simulation, Task

from ..conftest import api_client_for
from .builder import LegacyDatabase
from .cases import EMPTY_PASSWORD_USER, PASSWORDS, populate

pytestmark = pytest.mark.integration

TERMINAL = {"COMPLETED", "FAILED", "CANCELED"}


@pytest.fixture(autouse=True)
def fresh_throttle_cache(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }


@pytest.fixture(params=["migrated", "create_all"])
def legacy(request):
    database = LegacyDatabase(request.param)
    info = populate(database)
    yield database, info
    database.drop()


def run_import(database, tmp_path, *extra, name="report.json") -> dict:
    path = tmp_path / name
    call_command(
        "import_yaptide",
        "--source",
        database.url,
        "--report",
        str(path),
        *extra,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    return json.loads(path.read_text())


def _decode(blob):
    return None if blob is None else json.loads(gzip.decompress(bytes(blob)))


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def _time(value):
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def legacy_jobs(database) -> dict[str, dict]:
    """What yaptide holds per job, read straight from its tables (the test's own reader)."""
    jobs = {}
    sql = 'SELECT s.*, u.username, u.auth_provider FROM "Simulation" s LEFT JOIN "User" u ON u.id = s.user_id'
    for row in database.execute(sql + " ORDER BY s.id").fetchall():
        columns = [c.name for c in database.execute('SELECT * FROM "Simulation" LIMIT 0').description]
        sim = dict(zip(columns + ["username", "auth_provider"], row, strict=True))
        tasks = database.execute(
            "SELECT task_id, task_state, requested_primaries, simulated_primaries, start_time, end_time, "
            "estimated_time, last_update_time "
            'FROM "Task" WHERE simulation_id = %s ORDER BY task_id',
            [sim["id"]],
        ).fetchall()
        inputs = database.execute(
            'SELECT compressed_data FROM "Input" WHERE simulation_id = %s', [sim["id"]]
        ).fetchall()
        estimators = database.execute(
            'SELECT id, name, file_name FROM "Estimator" WHERE simulation_id = %s ORDER BY id', [sim["id"]]
        ).fetchall()
        pages = {
            est_id: database.execute(
                'SELECT page_number, compressed_data FROM "Page" WHERE estimator_id = %s ORDER BY page_number, id',
                [est_id],
            ).fetchall()
            for est_id, _, _ in estimators
        }
        logs = database.execute(
            'SELECT compressed_data FROM "Logfiles" WHERE simulation_id = %s ORDER BY id', [sim["id"]]
        )
        sim["tasks"] = tasks
        sim["input"] = _decode(inputs[0][0]) if inputs else None
        sim["estimators"] = estimators
        sim["pages"] = pages
        sim["log_texts"] = [text for (blob,) in logs.fetchall() for text in (_decode(blob) or {}).values()]
        jobs[sim["job_id"]] = sim
    return jobs


def owner_of(sim) -> User:
    if sim["username"] is None:
        # The placeholder is inactive; an operator who hands its jobs over activates it (activate_placeholder).
        return YaptideUser.objects.get(username=PLACEHOLDER_USERNAME)
    imported = ImportedUser.objects.get(legacy_username=sim["username"], auth_provider=sim["auth_provider"])
    return imported.user


def activate_placeholder():
    YaptideUser.objects.filter(username=PLACEHOLDER_USERNAME).update(is_active=True)


def check_job_reads_back(sim, client):
    body = client.get(f"/api/simulations/{sim['job_id']}/").json()
    assert body["title"] == sim["title"][:255]
    for field in ("platform", "sim_type", "input_type"):
        assert body[field] == sim[field]
    closed = sim["job_state"] not in TERMINAL
    assert body["job_state"] == ("CANCELED" if closed else sim["job_state"])
    assert _time(body["start_time"]) == sim["start_time"]
    assert _time(body["end_time"]) == sim["end_time"]
    tasks = body["tasks"]
    assert [t["task_id"] for t in tasks] == [t[0] for t in sim["tasks"]]
    for task, (_, state, requested, simulated, start, end, estimated, updated) in zip(tasks, sim["tasks"], strict=True):
        assert task["task_state"] == (state if state in TERMINAL else "CANCELED")
        assert task["estimated_time"] == estimated
        assert updated is None or _time(task["last_update_time"]) == updated
        assert (task["requested_primaries"], task["simulated_primaries"]) == (requested, simulated)
        assert (_time(task["start_time"]), _time(task["end_time"])) == (start, end)

    input_response = client.get(f"/api/simulations/{sim['job_id']}/input/")
    if sim["input"] is None:
        assert input_response.status_code == 404
    else:
        assert input_response.json() == sim["input"]

    # Estimators in id order, one per file_name, each with the names users saw (crossed ones included).
    expected_names = []
    for _, name, file_name in sim["estimators"]:
        if file_name not in [f for _, f in expected_names]:
            expected_names.append((name, file_name))
    listing = client.get(f"/api/simulations/{sim['job_id']}/estimators/").json()["estimators"]
    assert [(e["name"], e["file_name"]) for e in listing] == expected_names
    for est_id, _, file_name in sim["estimators"]:
        legacy_pages = sim["pages"][est_id]
        if len([e for e in sim["estimators"] if e[2] == file_name]) > 1 or not legacy_pages:
            continue  # duplicates are checked on their own
        pages = client.get(f"/api/simulations/{sim['job_id']}/estimators/{file_name}/").json()["pages"]
        expected = {}
        for number, blob in legacy_pages:
            expected.setdefault(number, _finite(_decode(blob)))
        assert pages == list(expected.values())

    logfiles = client.get(f"/api/simulations/{sim['job_id']}/logfiles/").json()["logfiles"]
    for text in sim["log_texts"]:
        assert text in logfiles.values()
    if closed or any(t[1] not in TERMINAL for t in sim["tasks"]):
        assert f"was {sim['job_state']} in yaptide" in logfiles["import_yaptide.log"]


def expected_username(legacy_name: str, legacy_id: int) -> str:
    return {
        "  padded  ": "padded",
        "padded ": f"padded-{legacy_id}",
        " bob": f"bob-{legacy_id}",
        "x" * 180: "x" * 150,
        "": f"yaptide-user-{legacy_id}",
    }.get(legacy_name, legacy_name)


def login(username, password):
    return APIClient().post("/api/auth/login/", {"username": username, "password": password}, format="json")


def test_import_brings_every_user_job_result_and_log(legacy, tmp_path, db, django_user_model):
    database, info = legacy
    before = database.checksum()

    report = run_import(database, tmp_path)

    assert report["complete"] and not report["dry_run"]
    summary = "\n".join(report["summary"])
    assert "5 users renamed" in summary and "titles over 255 characters truncated" in summary
    assert database.checksum() == before  # the source was never written
    # Users: every local user signs in with the old password (scrypt, pbkdf2 600k and 260k), renamed or not.
    for legacy_name, (password, _) in PASSWORDS.items():
        username = expected_username(legacy_name, info["users"][legacy_name])
        assert login(username, password).status_code == 200, legacy_name
        assert login(username, password + "x").status_code == 401
        assert YaptideUser.objects.get(username=username).password.startswith("md5$")  # re-hashed at login
    renamed = {(e["username"], e["renamed_to"]) for e in report["events"]["users_renamed"]}
    assert renamed == {
        (name, expected_username(name, info["users"][name]))
        for name in ("  padded  ", "padded ", " bob", "x" * 180, "")
    }
    dave = YaptideUser.objects.get(username=EMPTY_PASSWORD_USER)
    assert not dave.has_usable_password()
    assert login(EMPTY_PASSWORD_USER, "anything").status_code == 401
    assert [e["username"] for e in report["events"]["users_locked_out"]] == [EMPTY_PASSWORD_USER]
    # Keycloak users: same name as a local user allowed; cert and key encrypted at rest.
    kc_alice = KeycloakUser.objects.get(username="alice")
    assert kc_alice.private_key.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    with connection.cursor() as cursor:
        cursor.execute("SELECT private_key, cert FROM accounts_keycloakuser WHERE user_ptr_id = %s", [kc_alice.pk])
        stored_key, stored_cert = cursor.fetchone()
    assert "PRIVATE KEY" not in stored_key and "alice" not in stored_cert
    assert KeycloakUser.objects.get(username="kc-null").private_key == ""
    assert [e["username"] for e in report["events"]["keycloak_keys_unparsable"]] == ["kc-bad"]
    assert login("kc-null", "").status_code == 400

    # Jobs: every field, input, estimator order and names, page JSON and log text, as their owner sees them.
    jobs = legacy_jobs(database)
    assert Simulation.objects.count() == len(jobs)
    # Another user's job is a 404; the ownerless jobs belong to the placeholder, who cannot sign in.
    completed = info["jobs"]["completed"]
    assert (
        api_client_for(owner_of(jobs[info["jobs"]["batch"]])).get(f"/api/simulations/{completed}/").status_code == 404
    )
    placeholder = YaptideUser.objects.get(username=PLACEHOLDER_USERNAME)
    assert Simulation.objects.get(job_id=info["jobs"]["orphan"]).user_id == placeholder.pk
    assert not placeholder.is_active and not placeholder.has_usable_password()
    assert [e["job_id"] for e in report["events"]["simulations_orphaned"]] == [info["jobs"]["orphan"]]

    activate_placeholder()
    for sim in jobs.values():
        check_job_reads_back(sim, api_client_for(owner_of(sim)))
    # Duplicate estimators: the one with pages kept, pages united (the first with data per number).
    client = api_client_for(owner_of(jobs[completed]))
    z_profile = client.get(f"/api/simulations/{completed}/estimators/z_profile_/").json()
    assert [(p["metadata"]["name"], p["data"]["values"]) for p in z_profile["pages"]] == [
        ("DOSE", [1.5, 2.5, 3.25]),
        ("FLUENCE", [0.1, 0.2, 0.3]),
        ("LET", [4.0, 5.0, 6.0]),
    ]
    assert z_profile["metadata"] == {"file_corename": "z_profile_", "page_count": "2"}
    merged = report["events"]["estimators_merged"]
    assert [(e["job_id"], e["file_name"], e["pages_added"]) for e in merged] == [(completed, "z_profile_", [2])]
    assert sorted(merged[0]["dropped"]) == sorted(info["jobs"]["_duplicates"])
    nometa = client.get(f"/api/simulations/{completed}/estimators/nometa/").json()
    assert nometa["metadata"] == {} and nometa["pages"][0] is None
    # Crossed names stay as users saw them: by name "yz_mesh" they get the slab_ data.
    crossed = client.get(f"/api/simulations/{completed}/estimators/yz_mesh/").json()
    assert (crossed["file_name"], crossed["pages"][0]["dimensions"]) == ("slab_", 0)
    # NaN/Infinity became null, recorded.
    batch = info["jobs"]["batch"]
    page = api_client_for(owner_of(jobs[batch])).get(f"/api/simulations/{batch}/estimators/dose_/").json()["pages"][0]
    assert page["data"]["values"] == [1.0, None, None, None]
    assert {(e["table"], e["job_id"]) for e in report["events"]["payloads_nonfinite"]} == {("Page", batch)}

    # Several Logfiles rows: every text kept, a colliding name under another key.
    running = info["jobs"]["running"]
    logs = api_client_for(owner_of(jobs[running])).get(f"/api/simulations/{running}/logfiles/").json()["logfiles"]
    assert logs["shieldhit_0001.log"] == "first row\n"
    assert logs["shieldhit_0001.log~2"] == "second row, other text\n"
    assert logs["common.log"] == "same text\n" and logs["b.log"] == "b\n"
    # Titles over the limit: the full title in the report.
    assert report["events"]["titles_truncated"] == [{"job_id": running, "title": "t" * 300}]
    # Unfinished jobs closed, with the original states in the report; neither reaper nor merge sees them.
    closed = {e["job_id"]: e for e in report["events"]["simulations_closed"]}
    assert {job: closed[job]["legacy_state"] for job in closed} == {
        info["jobs"]["merging_queued"]: "MERGING_QUEUED",
        info["jobs"]["merging_stuck"]: "MERGING_RUNNING",
        info["jobs"]["unknown"]: "UNKNOWN",
        info["jobs"]["running"]: "RUNNING",
        info["jobs"]["pending_batch"]: "PENDING",
    }
    assert not Task.objects.exclude(task_state__in=TERMINAL).exists()
    assert not Simulation.objects.exclude(job_state__in=TERMINAL).exists()

    # No update key came over (yaptide's were per-process JWTs): no legacy worker can report here.
    worker = APIClient().post(
        f"/api/worker/simulations/{info['jobs']['running']}/",
        {"job_state": "COMPLETED"},
        format="json",
        HTTP_X_UPDATE_KEY="any-old-key",
    )
    assert worker.status_code == 403
    assert not Simulation.objects.exclude(update_key_hash="").exists()

    # Clusters: one per name, the batch job of the duplicate row on the merged one.
    assert sorted(Cluster.objects.values_list("cluster_name", flat=True)) == ["ares", "athena"]
    assert api_client_for(owner_of(jobs[batch])).get(f"/api/simulations/{batch}/").json()["cluster_name"] == "ares"
    ares, ares_again, _ = info["jobs"]["_ares"]
    assert report["events"]["clusters_merged"] == [{"cluster_name": "ares", "kept": ares, "merged": [ares_again]}]

    # Every row accounted for: read = written + already imported + merged + skipped, and read = what the source has.
    for table in ("User", "Cluster", "Simulation", "Task", "Input", "Estimator", "Page", "Logfiles"):
        counts = report["tables"][table]
        assert counts["read"] == report["source_rows"][table], table
        assert counts["read"] == counts["written"] + counts["already_imported"] + counts["merged"] + counts["skipped"]
    assert [e["id"] for e in report["events"]["tasks_skipped"]] and [
        e["id"] for e in report["events"]["inputs_skipped"]
    ]

    # Ids kept into an empty database, sequences moved past them.
    assert set(Simulation.objects.values_list("id", flat=True)) == {sim["id"] for sim in jobs.values()}
    assert User.objects.get(username="carol").pk == info["users"]["carol"]
    assert Estimator.objects.filter(pk=info["jobs"]["_duplicates"][0]).count() == 0
    new_user = YaptideUser.objects.create_user("newcomer", "a-long-newcomer-password-1")
    assert new_user.pk > max(info["users"].values())

    # An imported user made staff signs in to the admin site with the old password (scrypt and pbkdf2).
    YaptideUser.objects.filter(username__in=["alice", "carol"]).update(is_staff=True)
    for username in ("alice", "carol"):
        browser = Client()
        response = browser.post(
            "/admin/login/?next=/admin/", {"username": username, "password": PASSWORDS[username][0]}
        )
        assert response.status_code == 302 and browser.get("/admin/").status_code == 200

    # The admin shows the Celery, merge and Slurm ids.
    admin = django_user_model.objects.create_superuser("root", "operator-console-77")
    web = APIClient()
    web.force_login(admin)
    sim = CelerySimulation.objects.get(job_id=completed)
    page = web.get(f"/admin/simulations/celerysimulation/{sim.pk}/change/").content.decode()
    assert "merge-celery-id-1" in page
    task = Task.objects.get(simulation=sim, task_id=3)
    assert "celery-3" in web.get(f"/admin/simulations/celerytask/{task.pk}/change/").content.decode()
    batch_sim = Simulation.objects.get(job_id=batch)
    page = web.get(f"/admin/simulations/batchsimulation/{batch_sim.pk}/change/").content.decode()
    assert "/net/scratch/job-1" in page and "4242" in page and "4243" in page
    page = web.get("/admin/legacy/importeduser/?renamed__exact=1").content.decode()
    assert "padded" in page


def _snapshot():
    tables = [m._meta.db_table for m in (User, Simulation, Task, Estimator, Page, Cluster, ImportedUser)]
    tables += ["simulations_input", "simulations_logfiles", "simulations_celerytask", "simulations_batchsimulation"]
    with connection.cursor() as cursor:
        result = {}
        for table in tables:
            cursor.execute(f"SELECT * FROM {table} ORDER BY 1")
            result[table] = [
                tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in cursor.fetchall()
            ]
    return result


def test_importing_twice_changes_nothing(legacy, tmp_path, db):
    database, _ = legacy
    first = run_import(database, tmp_path)
    state = _snapshot()

    second = run_import(database, tmp_path, name="second.json")

    assert _snapshot() == state
    assert second["complete"]
    entries = LogEntry.objects.filter(object_repr=ImportState.objects.get().source)
    assert [entry.change_message.split(" (manage.py import_yaptide")[0] for entry in entries] == [
        f"Import of {first['source']}: complete."
    ] * 2  # both runs are in the audit trail
    for table, counts in second["tables"].items():
        assert counts["written"] == 0, table
    assert second["tables"]["Simulation"]["already_imported"] == first["tables"]["Simulation"]["written"]


def test_a_run_stopped_midway_resumes_without_duplicates(legacy, tmp_path, db):
    database, _ = legacy
    calls = []

    def crash_on_third_batch(number):
        calls.append(number)
        if number == 3:
            raise RuntimeError("injected crash")

    load.BATCH_HOOKS.append(crash_on_third_batch)
    try:
        with pytest.raises(RuntimeError, match="injected crash"):
            run_import(database, tmp_path, "--batch-size", "2")
    finally:
        load.BATCH_HOOKS.remove(crash_on_third_batch)
    assert Simulation.objects.count() == 4  # two whole batches, the third rolled back
    crashed = json.loads((tmp_path / "report.json").read_text())
    assert not crashed["complete"] and crashed["tables"]["Simulation"]["written"] == 4

    stopped = run_import(database, tmp_path, "--batch-size", "2", "--max-batches", "4", name="stopped.json")
    assert not stopped["complete"] and Simulation.objects.count() == 8
    finished = run_import(database, tmp_path, "--batch-size", "2", name="finished.json")

    assert finished["complete"]
    jobs = legacy_jobs(database)
    activate_placeholder()
    assert sorted(Simulation.objects.values_list("job_id", flat=True)) == sorted(jobs)
    for sim in jobs.values():
        check_job_reads_back(sim, api_client_for(owner_of(sim)))


def test_dry_run_checks_everything_and_writes_nothing(legacy, tmp_path, db):
    database, _ = legacy

    report = run_import(database, tmp_path, "--dry-run")

    assert report["dry_run"] and report["complete"]
    assert not User.objects.exists() and not Simulation.objects.exists() and not Cluster.objects.exists()
    assert not ImportedUser.objects.exists() and not ImportState.objects.exists()
    assert report["tables"]["Simulation"]["written"] == len(legacy_jobs(database))
    assert report["events"]["payloads_nonfinite"]
    real = run_import(database, tmp_path, name="real.json")
    assert report["events"]["users_renamed"] == real["events"]["users_renamed"]  # the dry run tells the truth
    assert report["events"]["simulations_closed"] == real["events"]["simulations_closed"]


def test_import_into_a_database_with_data_remaps_ids_and_matches_users(legacy, tmp_path, db, submit, user):
    database, info = legacy
    bob = YaptideUser.objects.create_user("bob", "quasar-nebula-2024")
    own, _ = submit()

    report = run_import(database, tmp_path)

    assert report["ids"]["users"] == "remapped"
    assert {e["username"] for e in report["events"]["users_matched"]} == {"bob"}
    assert login("bob", "quasar-nebula-2024").status_code == 200  # an existing user keeps his password
    jobs = legacy_jobs(database)
    batch = jobs[info["jobs"]["batch"]]
    activate_placeholder()
    assert Simulation.objects.get(job_id=batch["job_id"]).user_id == bob.pk
    assert Simulation.objects.filter(pk=own.pk, user=user).exists()
    for sim in jobs.values():
        check_job_reads_back(sim, api_client_for(owner_of(sim)))


def test_the_source_is_opened_read_only(legacy):
    database, _ = legacy
    source = LegacySource(database.url)
    try:
        with pytest.raises(Exception, match="read-only"):
            source.connection.execute('DELETE FROM "Page"')
    finally:
        source.connection.close()


def test_a_source_that_is_not_yaptide_is_refused(db):
    database = LegacyDatabase("migrated")
    try:
        database.execute('DROP TABLE "Page"')
        with pytest.raises(CommandError, match="Page"):
            call_command("import_yaptide", "--source", database.url, stdout=io.StringIO(), stderr=io.StringIO())
    finally:
        database.drop()


def test_batches_shrink_to_keep_payloads_within_the_budget(legacy, tmp_path, db, monkeypatch):
    database, _ = legacy
    monkeypatch.setattr(load, "PAYLOAD_BUDGET", 1)  # every simulation alone is over it
    batches = []
    monkeypatch.setattr(load, "BATCH_HOOKS", [batches.append])

    report = run_import(database, tmp_path, "--batch-size", "4")

    jobs = legacy_jobs(database)
    assert report["complete"] and Simulation.objects.count() == len(jobs)
    assert len(batches) == len(jobs) - 3  # one batch of 4, then one simulation per batch


def test_closed_legacy_jobs_are_left_alone_by_the_reaper_and_a_resent_merge(legacy, tmp_path, db):
    from simulations import selectors, services
    from simulations.tasks import merge_results

    database, info = legacy
    run_import(database, tmp_path)
    stuck = Simulation.objects.get(job_id=info["jobs"]["merging_stuck"])
    before = _snapshot()

    assert services.tasks_fail_stale(stale_seconds=0) == []
    assert list(selectors.merges_stalled(stale_seconds=0)) == []
    assert merge_results(stuck.pk) == 0

    assert _snapshot() == before
    assert stuck.job_state == "CANCELED"


def test_an_older_schema_without_the_later_columns_imports(tmp_path, db):
    """Databases from before estimators had a file_name, pages a name and dimension, and tasks a last update."""
    from .builder import page_json

    database = LegacyDatabase("migrated")
    try:
        user = database.add_user("old-timer", password_hash="")
        sim, job_id = database.add_simulation(user_id=user)
        database.add_task(sim, 0, start_time=None)
        estimator = database.add_estimator(sim, "z_profile_", "ignored", {"file_corename": "z_profile_"})
        database.add_page(estimator, 0, page_json(0, "DOSE", [1.0, 2.0]))
        database.execute('ALTER TABLE "Estimator" DROP COLUMN file_name')
        database.execute('ALTER TABLE "Page" DROP COLUMN page_name, DROP COLUMN page_dimension')
        database.execute('ALTER TABLE "Task" DROP COLUMN last_update_time')

        report = run_import(database, tmp_path)
    finally:
        database.drop()

    assert report["complete"]
    client = api_client_for(User.objects.get(username="old-timer"))
    listing = client.get(f"/api/simulations/{job_id}/estimators/").json()["estimators"]
    assert listing == [
        {
            "name": "z_profile_",
            "file_name": "z_profile_",
            "pages": [{"page_number": 0, "page_name": "DOSE", "page_dimension": 1}],  # read off the page JSON
        }
    ]
    page = client.get(f"/api/simulations/{job_id}/estimators/z_profile_/").json()["pages"][0]
    assert page["data"]["values"] == [1.0, 2.0]
