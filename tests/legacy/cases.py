"""One yaptide database with every case of what real yaptide data holds (the legacy README), and its passwords."""

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from werkzeug.security import generate_password_hash

from .builder import LegacyDatabase, naive_utc, page_json

PASSWORDS = {  # legacy username -> (password, werkzeug method)
    "alice": ("alice-scrypt-pw", "scrypt"),
    "bob": ("bob-pbkdf2-600k", "pbkdf2:sha256:600000"),
    "carol": ("carol-pbkdf2-260k", "pbkdf2:sha256:260000"),
    "Zoë 🚀": ("zoë-emoji-pw", "scrypt"),
    "  padded  ": ("padded-pw", "pbkdf2:sha256:260000"),
    "padded ": ("other-padded-pw", "scrypt"),  # strips to the same name as the one before
    " bob": ("space-bob-pw", "scrypt"),
    "x" * 180: ("long-name-pw", "scrypt"),
    "": ("empty-name-pw", "pbkdf2:sha256:600000"),
}
EMPTY_PASSWORD_USER = "dave"


def editor_input(primaries: int, outputs: list[str]) -> dict:
    return {
        "input_type": "EDITOR",
        "input_json": {
            "beam": {"numberOfParticles": primaries, "energy": 150},
            "scoringManager": {"outputs": [{"name": name} for name in outputs]},
        },
        "number_of_all_primaries": primaries,
        "input_files": {"beam.dat": f"NSTAT {primaries} 0\n", "detect.dat": "...\n", "geo.dat": "...\n", "mat.dat": ""},
    }


def files_input(primaries: int) -> dict:
    return {
        "input_type": "FILES",
        "number_of_all_primaries": primaries,
        "input_files": {"beam.dat": f"NSTAT {primaries} 0\n", "geo.dat": "zażółć\n"},
    }


def private_key_pem() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()


def populate(db: LegacyDatabase) -> dict:
    """Fills `db`; returns {"users": {legacy name: id}, "jobs": {case: job_id}, "clusters": ...}."""
    users = {}
    for name, (password, method) in PASSWORDS.items():
        users[name] = db.add_user(name, password_hash=generate_password_hash(password, method=method))
    ghost = db.add_user("ghost", password_hash=generate_password_hash("gone", method="scrypt"))
    users[EMPTY_PASSWORD_USER] = db.add_user(EMPTY_PASSWORD_USER, password_hash="")
    users["alice@kc"] = db.add_user(
        "alice", "KeycloakUser", cert="ssh-ed25519-cert-v01@openssh.com AAAA alice", private_key=private_key_pem()
    )
    users["kc-null"] = db.add_user("kc-null", "KeycloakUser")
    users["kc-bad"] = db.add_user("kc-bad", "KeycloakUser", cert="not a cert", private_key="-----BEGIN garbage")

    ares = db.add_cluster("ares")
    ares_again = db.add_cluster("ares")
    athena = db.add_cluster("athena")

    alice, bob = users["alice"], users["bob"]
    jobs = {}

    # A complete editor job: task ordinals with a gap, a COMPLETED task without start_time, microsecond and
    # whole-second times, duplicate and crossed estimators, NULL metadata, a NULL page, duplicate pages.
    sim, jobs["completed"] = db.add_simulation(
        user_id=alice,
        title="Dawka 🧪 żółć",
        start_time=naive_utc(),
        end_time=naive_utc(minutes=5, microseconds=7),
        merge_id="merge-celery-id-1",
    )
    db.add_input(sim, editor_input(3000, ["z_profile", "yz_mesh", "slab"]))
    for ordinal, start in ((0, naive_utc(seconds=1)), (1, None), (3, naive_utc(seconds=2, microseconds=-123456))):
        db.add_task(
            sim,
            ordinal,
            start_time=start,
            end_time=naive_utc(minutes=4),
            last_update_time=naive_utc(minutes=4),
            celery_id=f"celery-{ordinal}",
        )
    empty_duplicate = db.add_estimator(sim, "z_profile", "z_profile_", {"file_corename": "z_profile_"})
    z_profile = db.add_estimator(sim, "z_profile", "z_profile_", {"file_corename": "z_profile_", "page_count": "2"})
    db.add_page(z_profile, 0, page_json(0, "DOSE", [1.5, 2.5, 3.25]))
    db.add_page(z_profile, 1, page_json(1, "FLUENCE", [0.1, 0.2, 0.3]))
    db.add_page(z_profile, 1, page_json(1, "FLUENCE", [0.1, 0.2, 0.3]))  # the same page uploaded twice
    later_duplicate = db.add_estimator(sim, "z_profile", "z_profile_", {"file_corename": "z_profile_"})
    db.add_page(later_duplicate, 1, page_json(1, "FLUENCE", [9.0, 9.0, 9.0]))
    db.add_page(later_duplicate, 2, page_json(2, "LET", [4.0, 5.0, 6.0]))
    crossed_a = db.add_estimator(sim, "yz_mesh", "slab_", {"file_corename": "slab_"})
    db.add_page(crossed_a, 0, page_json(0, "DOSE", [7.0], dimensions=0))
    crossed_b = db.add_estimator(sim, "slab", "yz_mesh_", {"file_corename": "yz_mesh_"})
    db.add_page(crossed_b, 0, page_json(0, "DOSE", [[1.0, 2.0], [3.0, 4.0]], dimensions=2))
    no_metadata = db.add_estimator(sim, "nometa", "nometa_", None)
    db.add_page(no_metadata, 1, page_json(1, "DOSE", [0.5]))  # inserted before page 0: page order is page_number
    db.add_page(no_metadata, 0, None, name="DOSE", dimension=1)  # a page whose data is NULL
    db.add_estimator(sim, "empty", "empty_", {"file_corename": "empty_"})  # no pages
    jobs["_duplicates"] = (empty_duplicate, later_duplicate)

    # Batch job on a cluster whose name is duplicated; 1-based ordinals with a gap; NaN/Infinity in a page.
    sim, jobs["batch"] = db.add_simulation(
        user_id=bob,
        platform="BATCH",
        input_type="FILES",
        cluster_id=ares_again,
        job_dir="/net/scratch/job-1",
        array_id=4242,
        collect_id=4243,
        start_time=naive_utc(hours=1),
        end_time=naive_utc(hours=2),
    )
    db.add_input(sim, files_input(2000))
    for ordinal in (1, 2, 4):
        db.add_task(sim, ordinal, platform="BATCH", start_time=naive_utc(hours=1, seconds=ordinal))
    estimator = db.add_estimator(sim, "dose_", "dose_", {"file_corename": "dose_"})
    nan_page = page_json(0, "DOSE", [1.0, float("nan"), float("inf"), float("-inf")])
    db.add_page(estimator, 0, nan_page)

    # Batch job on the other cluster, failed at submission: its Logfiles row holds the sbatch output.
    sim, jobs["batch_failed"] = db.add_simulation(
        user_id=bob,
        platform="BATCH",
        job_state="FAILED",
        input_type="FILES",
        cluster_id=athena,
    )
    db.add_input(sim, files_input(100))
    db.add_logfiles(sim, {"submit.stdout": "", "submit.stderr": "sbatch: error: invalid account\n"})
    jobs["_ares"] = (ares, ares_again, athena)

    # CANCELED with COMPLETED tasks and no end_time.
    sim, jobs["canceled"] = db.add_simulation(user_id=alice, job_state="CANCELED", title="")
    db.add_input(sim, files_input(10))
    db.add_task(sim, 0, task_state="COMPLETED", end_time=naive_utc(seconds=30))
    db.add_task(sim, 1, task_state="CANCELED")

    # COMPLETED with a FAILED task; COMPLETED without estimators.
    sim, jobs["completed_failed_task"] = db.add_simulation(user_id=users["carol"], end_time=naive_utc(minutes=1))
    db.add_input(sim, files_input(10))
    db.add_task(sim, 0, task_state="FAILED", simulated=0)
    db.add_task(sim, 1, task_state="COMPLETED")

    # MERGING_RUNNING with every task FAILED (stuck forever).
    sim, jobs["merging_stuck"] = db.add_simulation(user_id=alice, job_state="MERGING_RUNNING")
    db.add_input(sim, files_input(10))
    db.add_task(sim, 0, task_state="FAILED", simulated=0)
    db.add_task(sim, 1, task_state="FAILED", simulated=0)

    # MERGING_QUEUED: a batch job whose tasks all completed, waiting for its collect job.
    sim, jobs["merging_queued"] = db.add_simulation(
        user_id=users["carol"],
        platform="BATCH",
        job_state="MERGING_QUEUED",
        cluster_id=athena,
        input_type="FILES",
        array_id=77,
        job_dir="/net/scratch/job-77",
    )
    db.add_input(sim, files_input(20))
    db.add_task(sim, 1, platform="BATCH", end_time=naive_utc(minutes=9))
    db.add_task(sim, 2, platform="BATCH", end_time=naive_utc(minutes=9, microseconds=1))

    # UNKNOWN with PENDING tasks and no Input (submitted while the broker was down).
    sim, jobs["unknown"] = db.add_simulation(user_id=alice, job_state="UNKNOWN", sim_type="fluka", input_type="FILES")
    db.add_task(sim, 0, task_state="PENDING", simulated=0, celery_id="")
    db.add_task(sim, 1, task_state="PENDING", simulated=0, celery_id="")

    # RUNNING with a RUNNING and a PENDING task; several Logfiles rows with overlapping names.
    sim, jobs["running"] = db.add_simulation(user_id=alice, job_state="RUNNING", title="t" * 300)
    db.add_input(sim, files_input(10))
    db.add_task(sim, 0, task_state="RUNNING", simulated=3, estimated_time=60, start_time=naive_utc())
    db.add_task(sim, 1, task_state="PENDING", simulated=0)
    db.add_logfiles(sim, {"shieldhit_0001.log": "first row\n", "common.log": "same text\n"})
    db.add_logfiles(
        sim, {"shieldhit_0001.log": "second row, other text\n", "common.log": "same text\n", "b.log": "b\n"}
    )

    # FAILED with logs; owners deleted through the ORM (user_id NULL).
    sim, jobs["failed"] = db.add_simulation(user_id=users["Zoë 🚀"], job_state="FAILED", end_time=naive_utc(days=1))
    db.add_input(sim, files_input(10))
    db.add_task(sim, 0, task_state="FAILED", simulated=0)
    db.add_logfiles(sim, {"shieldhit_0000.log": "ERROR: ... 🧨\n"})
    sim, jobs["orphan"] = db.add_simulation(user_id=ghost, title="owner left")
    db.add_input(sim, files_input(10))
    db.add_task(sim, 0)
    db.execute('UPDATE "Simulation" SET user_id = NULL WHERE user_id = %s', [ghost])
    db.execute('DELETE FROM "User" WHERE id = %s', [ghost])  # an id gap among users

    # Id gaps among simulations and tasks; rows that belong to no simulation.
    sim, deleted = db.add_simulation(user_id=alice)
    db.add_task(sim, 0)
    db.execute('DELETE FROM "Simulation" WHERE id = %s', [sim])
    sim, jobs["pending_batch"] = db.add_simulation(
        user_id=users["  padded  "], platform="BATCH", job_state="PENDING", cluster_id=ares, input_type="FILES"
    )
    db.add_input(sim, files_input(10))
    db.add_task(sim, 1, platform="BATCH", task_state="PENDING", simulated=0)
    db.execute(
        'INSERT INTO "Task" (simulation_id, task_id, requested_primaries, simulated_primaries, task_state, platform) '
        "VALUES (NULL, 0, 1, 0, 'PENDING', 'DIRECT')"
    )
    db.execute('INSERT INTO "Input" (simulation_id, compressed_data) VALUES (NULL, NULL)')
    return {"users": users, "jobs": jobs}
