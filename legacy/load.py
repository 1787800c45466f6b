"""Writes a yaptide database into this one: users, clusters, then simulations in batches, one transaction each.

Idempotent and resumable: users are matched by their legacy (username, auth_provider) (legacy.ImportedUser),
clusters by name, simulations by job_id; a batch is written whole or not at all, so a run stopped anywhere
leaves no half simulation and the next run goes on where it stopped.

Test hook: callables in BATCH_HOOKS are called with the batch number inside each simulation batch's
transaction after its rows are written; one that raises rolls the batch back (a run stopped midway).
"""

import sys
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from django.core.management.color import no_style
from django.db import connection, models, reset_queries, transaction

from accounts.choices import AuthProvider
from accounts.models import KeycloakUser, User, YaptideUser
from clusters.models import Cluster
from simulations.models import (
    PLATFORM_CLASSES,
    BatchSimulation,
    BatchTask,
    CelerySimulation,
    CeleryTask,
    Estimator,
    Input,
    Logfiles,
    Page,
    Simulation,
    Task,
)
from yaptide_site.db import bulk_create_polymorphic

from .hashers import django_password_from_werkzeug
from .mapping import (
    PLACEHOLDER_USERNAME,
    TEXT_MAX,
    PlannedSimulation,
    plan_simulations,
    username_candidate,
    username_with_suffix,
)
from .models import ImportedUser, ImportState
from .report import ImportReport
from .source import LegacySource, source_label

BATCH_HOOKS: list[Callable[[int], None]] = []
# Compressed payload bytes one simulation batch aims at; batches shrink below --batch-size to stay near it.
PAYLOAD_BUDGET = 64 * 1024 * 1024

SIMULATION_CLASS = {platform: classes[0] for platform, classes in PLATFORM_CLASSES.items()}
TASK_CLASS = {platform: classes[1] for platform, classes in PLATFORM_CLASSES.items()}
CHILD_FIELDS = {
    model: {field.attname for field in model._meta.local_concrete_fields}
    for model in (*SIMULATION_CLASS.values(), *TASK_CLASS.values())
}
SIMULATION_TABLES = (Simulation, Task, Input, Estimator, Page, Logfiles)
LEGACY_TABLE = {User: "User", Cluster: "Cluster", Simulation: "Simulation", Task: "Task", Input: "Input"}
LEGACY_TABLE |= {Estimator: "Estimator", Page: "Page", Logfiles: "Logfiles"}


class Progress:
    """A one-line progress bar on a stream (redrawn in place on a terminal, a line per 10% otherwise)."""

    def __init__(self, label: str, total: int, stream=None):
        self.label, self.total, self.done = label, max(total, 0), 0
        self.stream = stream or sys.stderr
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.started = datetime.now(UTC)
        self._last_tenth = -1

    def advance(self, n: int) -> None:
        self.done += n
        fraction = self.done / self.total if self.total else 1.0
        seconds = max((datetime.now(UTC) - self.started).total_seconds(), 1e-6)
        bar = "#" * int(30 * fraction) + "-" * (30 - int(30 * fraction))
        line = f"{self.label} [{bar}] {self.done}/{self.total} {100 * fraction:5.1f}% {self.done / seconds:8.1f}/s"
        if self.tty:
            self.stream.write("\r" + line)
        elif int(10 * fraction) != self._last_tenth:
            self._last_tenth = int(10 * fraction)
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _key_parses(key: str) -> bool:
    data = key.encode()
    for load in (serialization.load_pem_private_key, serialization.load_ssh_private_key):
        try:
            load(data, password=None)
            return True
        except TypeError:  # encrypted with a passphrase: a key all the same
            return True
        except (ValueError, UnsupportedAlgorithm):
            continue
    return False


class Importer:
    """One run of the import: source -> mapping -> this database, recording everything in `report`."""

    def __init__(
        self,
        *,
        source: LegacySource,
        source_url: str,
        dry_run: bool = False,
        batch_size: int = 200,
        max_batches: int | None = None,
        progress_stream=None,
    ):
        self.source = source
        self.dry_run = dry_run
        self.batch_size = batch_size
        self.max_batches = max_batches
        self.progress_stream = progress_stream
        self.label = source_label(source_url)
        self.report = ImportReport(source=self.label, dry_run=dry_run)
        self.now = datetime.now(UTC)
        self.user_map: dict[int, int | None] = {}
        self.cluster_map: dict[int, int | None] = {}
        self._placeholder: User | None = None
        self.skipped_users: set[int] = set()
        self._renamed_to: set[tuple[str, str]] = set()

    # --- the run ------------------------------------------------------------------------------------

    def run(self) -> ImportReport:
        counts = self.source.counts()
        self.report.source_rows = counts
        self.state = self._state()
        self.report.ids = {
            "users": "kept" if self.state.keep_user_ids else "remapped",
            "clusters": "kept" if self.state.keep_cluster_ids else "remapped",
            "simulations and their rows": "kept" if self.state.keep_simulation_ids else "remapped",
        }
        if not self.dry_run:
            self._reserve_ids()
        self.import_users(counts["User"])
        self.import_clusters()
        complete = self.import_simulations(counts["Simulation"])
        if complete:
            self._account_orphans()
        if not self.dry_run:
            self._reset_sequences()
            if complete:
                ImportState.objects.filter(pk=self.state.pk).update(finished_at=datetime.now(UTC))
        self.report.complete = complete
        self.report.finished_at = datetime.now(UTC)
        return self.report

    def _state(self) -> ImportState:
        state = ImportState.objects.filter(source=self.label).first()
        if state is not None:
            return state
        state = ImportState(
            source=self.label,
            keep_user_ids=not User.objects.exists(),
            keep_cluster_ids=not Cluster.objects.exists(),
            keep_simulation_ids=not any(model.objects.exists() for model in SIMULATION_TABLES),
        )
        if not self.dry_run:
            state.save()
        return state

    def _kept_models(self) -> list[type[models.Model]]:
        kept = []
        if self.state.keep_user_ids:
            kept.append(User)
        if self.state.keep_cluster_ids:
            kept.append(Cluster)
        if self.state.keep_simulation_ids:
            kept.extend(SIMULATION_TABLES)
        return kept

    def _reserve_ids(self) -> None:
        """Moves the sequences of tables whose ids are kept past the legacy ids, so nothing else can take one."""
        max_ids = self.source.max_ids()
        with connection.cursor() as cursor:
            for model in self._kept_models():
                table, legacy_max = model._meta.db_table, max_ids[LEGACY_TABLE[model]]
                if connection.vendor == "postgresql":
                    quoted = connection.ops.quote_name(table)
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                        f"GREATEST(%s, (SELECT coalesce(max(id), 0) FROM {quoted}), 1), "
                        f"GREATEST(%s, (SELECT coalesce(max(id), 0) FROM {quoted})) > 0)",
                        [table, legacy_max, legacy_max],
                    )
                elif connection.vendor == "sqlite":  # Django's AUTOINCREMENT keys count in sqlite_sequence
                    cursor.execute(
                        "INSERT INTO sqlite_sequence (name, seq) SELECT %s, 0 "
                        "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = %s)",
                        [table, table],
                    )
                    cursor.execute("UPDATE sqlite_sequence SET seq = MAX(seq, %s) WHERE name = %s", [legacy_max, table])

    def _reset_sequences(self) -> None:
        statements = connection.ops.sequence_reset_sql(no_style(), self._kept_models())
        if statements:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)

    # --- users --------------------------------------------------------------------------------------

    def import_users(self, total: int) -> None:
        imported = {
            (legacy_username, provider): user_id
            for legacy_username, provider, user_id in ImportedUser.objects.values_list(
                "legacy_username", "auth_provider", "user_id"
            )
        }
        progress = Progress("users", total, self.progress_stream)
        for batch in self.source.users(self.batch_size):
            self.report.count("User", "read", len(batch))
            with transaction.atomic():
                for row in batch:
                    key = (row["username"], row["auth_provider"])
                    if key in imported:
                        self.user_map[row["id"]] = imported[key]
                        self.report.count("User", "already_imported")
                        continue
                    self.user_map[row["id"]] = self._import_user(row)
            progress.advance(len(batch))
        progress.close()

    def _free_username(self, row: dict) -> tuple[str, bool]:
        """The name this account gets here and whether it is a rename (the rule is in legacy.mapping)."""
        name = username_candidate(row["username"], row["id"])
        if name == row["username"]:
            return name, False
        base, attempt = name, 1
        while (
            (name, row["auth_provider"]) in self._renamed_to  # taken earlier in this run (a dry run writes none)
            or User.objects.filter(username=name, auth_provider=row["auth_provider"]).exists()
            or ImportedUser.objects.filter(legacy_username=name, auth_provider=row["auth_provider"]).exists()
            or self.source.username_exists(name, row["auth_provider"])
        ):
            name = username_with_suffix(base, row["id"], attempt)
            attempt += 1
        self._renamed_to.add((name, row["auth_provider"]))
        return name, True

    def _import_user(self, row: dict) -> int | None:
        provider = row["auth_provider"]
        who = {"username": row["username"], "auth_provider": provider}
        if provider not in AuthProvider.values:
            self.report.count("User", "skipped")
            self.skipped_users.add(row["id"])
            self.report.add("users_locked_out", {**who, "reason": "unknown auth_provider; not imported"})
            return None
        name, renamed = self._free_username(row)
        existing = None if renamed else User.objects.filter(username=name, auth_provider=provider).first()
        if existing is not None:
            self.report.add("users_matched", {**who, "user_id": existing.pk})
            self.report.count("User", "merged")
            if not self.dry_run:
                ImportedUser.objects.create(
                    legacy_username=row["username"],
                    auth_provider=provider,
                    legacy_id=row["id"],
                    user=existing,
                    matched=True,
                )
            return existing.pk
        locked_out = False
        if provider == AuthProvider.YAPTIDE:
            user = YaptideUser(username=name)
            password = django_password_from_werkzeug(row["password_hash"])
            if password is None:
                locked_out = True
                reason = "empty password" if not row["password_hash"] else "password hash in an unknown format"
                if not row["has_local_row"]:
                    reason = "no YaptideUser row"
                self.report.add("users_locked_out", {**who, "imported_as": name, "reason": reason})
                user.set_unusable_password()
            else:
                user.password = password
        else:
            user = KeycloakUser(username=name, cert=row["cert"] or "", private_key=row["private_key"] or "")
            if row["private_key"] and not _key_parses(row["private_key"]):
                self.report.add("keycloak_keys_unparsable", {**who, "imported_as": name})
        if renamed:
            self.report.add("users_renamed", {**who, "renamed_to": name})
            self.report.count("User", "renamed")
        self.report.count("User", "written")
        if self.dry_run:
            return None
        if self.state.keep_user_ids:
            user.id = row["id"]
        user.date_joined = self.now
        user.save()
        ImportedUser.objects.create(
            legacy_username=row["username"],
            auth_provider=provider,
            legacy_id=row["id"],
            user=user,
            renamed=renamed,
            locked_out=locked_out,
        )
        return user.pk

    def placeholder_user_id(self) -> int | None:
        """The owner of simulations whose yaptide owner was deleted: an inactive local user with no password."""
        if self.dry_run:
            return None
        if self._placeholder is None:
            self._placeholder = YaptideUser.objects.filter(username=PLACEHOLDER_USERNAME).first()
            if self._placeholder is None:
                user = YaptideUser(username=PLACEHOLDER_USERNAME, is_active=False, date_joined=self.now)
                user.set_unusable_password()
                user.save()
                self._placeholder = user
        return self._placeholder.pk

    # --- clusters -----------------------------------------------------------------------------------

    def import_clusters(self) -> None:
        rows = self.source.clusters()
        self.report.count("Cluster", "read", len(rows))
        groups: dict[str, list[dict]] = {}
        for row in rows:
            groups.setdefault(row["cluster_name"], []).append(row)
        with transaction.atomic():
            for legacy_name, group in groups.items():
                name = legacy_name[:TEXT_MAX]
                if name != legacy_name:
                    self.report.add("names_truncated", {"column": "Cluster.cluster_name", "full": legacy_name})
                cluster = Cluster.objects.filter(cluster_name=name).first()
                if cluster is not None:
                    self.report.count("Cluster", "already_imported")
                elif not self.dry_run:
                    cluster = Cluster(cluster_name=name)
                    if self.state.keep_cluster_ids:
                        cluster.id = group[0]["id"]
                    cluster.save()
                    self.report.count("Cluster", "written")
                else:
                    self.report.count("Cluster", "written")
                if len(group) > 1:
                    dropped = [row["id"] for row in group[1:]]
                    self.report.add(
                        "clusters_merged", {"cluster_name": legacy_name, "kept": group[0]["id"], "merged": dropped}
                    )
                    self.report.count("Cluster", "merged", len(dropped))
                for row in group:
                    self.cluster_map[row["id"]] = cluster.pk if cluster is not None else None

    # --- simulations --------------------------------------------------------------------------------

    def import_simulations(self, total: int) -> bool:
        """Imports simulations batch by batch; False if it stopped at --max-batches before the end."""
        progress = Progress("simulations", total, self.progress_stream)
        self._next_size = self.batch_size
        for number, batch in enumerate(self.source.simulations(lambda: self._next_size), start=1):
            if self.max_batches is not None and number > self.max_batches:
                progress.close()
                return False
            self.report.count("Simulation", "read", len(batch))
            done = set(
                Simulation.objects.filter(job_id__in=[row["job_id"] for row in batch]).values_list("job_id", flat=True)
            )
            everything = self.source.children(batch)
            for table, n in everything.counts().items():
                self.report.count(table, "read", n)
            if done:
                self.report.count("Simulation", "already_imported", len(done))
                for table, n in everything.only({row["id"] for row in batch if row["job_id"] in done}).counts().items():
                    self.report.count(table, "already_imported", n)
            todo = [row for row in batch if row["job_id"] not in done]
            if todo:
                rows = everything.only({row["id"] for row in todo})
                self._adapt_batch_size(len(todo), rows)
                planned = plan_simulations(rows, self.report, self.now)
                with transaction.atomic():
                    self._write(planned)
                    for hook in BATCH_HOOKS:
                        hook(number)
                self._count_written(planned)  # after the commit: a rolled-back batch wrote nothing
            reset_queries()  # with DEBUG on, Django keeps every statement (payloads included) until told not to
            progress.advance(len(batch))
        progress.close()
        return True

    def _adapt_batch_size(self, simulations: int, rows) -> None:
        """Sizes the next batch so its payloads stay near PAYLOAD_BUDGET (2-D results are large)."""
        payload = sum(
            len(row["compressed_data"] or b"")
            for kind in (rows.inputs, rows.estimators, rows.pages, rows.logfiles)
            for row in kind
        )
        per_simulation = max(payload / simulations, 1.0)
        self._next_size = max(1, min(self.batch_size, int(PAYLOAD_BUDGET / per_simulation)))

    def _owner(self, simulation: PlannedSimulation) -> int | None:
        legacy_user_id = simulation.legacy_user_id
        if legacy_user_id in self.user_map and legacy_user_id not in self.skipped_users:
            return self.user_map[legacy_user_id]
        self.report.add("simulations_orphaned", {"job_id": simulation.job_id, "legacy_user_id": legacy_user_id})
        return self.placeholder_user_id()

    def _write(self, planned: list[PlannedSimulation]) -> None:
        keep = self.state.keep_simulation_ids
        by_class: dict[type, list] = {CelerySimulation: [], BatchSimulation: []}
        for p in planned:
            fields = dict(
                job_id=p.job_id,
                user_id=self._owner(p),
                start_time=p.start_time,
                end_time=p.end_time,
                title=p.title,
                input_type=p.input_type,
                sim_type=p.sim_type,
                job_state=p.job_state,
            )
            if keep:
                fields["id"] = p.legacy_id
            model = SIMULATION_CLASS[p.platform]
            own = dict(
                merge_id=p.merge_id,
                cluster_id=self.cluster_map.get(p.legacy_cluster_id),
                job_dir=p.job_dir,
                array_id=p.array_id,
                collect_id=p.collect_id,
            )
            own = {name: value for name, value in own.items() if name in CHILD_FIELDS[model]}
            by_class[model].append((p, model(**own, **fields)))
        if self.dry_run:
            return
        new_ids: dict[int, int] = {}
        for model, pairs in by_class.items():
            bulk_create_polymorphic(model, [obj for _, obj in pairs])
            new_ids |= {p.legacy_id: obj.pk for p, obj in pairs}
        tasks: dict[type, list] = {CeleryTask: [], BatchTask: []}
        inputs, estimators, logfiles = [], [], []
        for p in planned:
            simulation_id = new_ids[p.legacy_id]
            for t in p.tasks:
                fields = dict(
                    simulation_id=simulation_id,
                    task_id=t.task_id,
                    requested_primaries=t.requested_primaries,
                    simulated_primaries=t.simulated_primaries,
                    task_state=t.task_state,
                    estimated_time=t.estimated_time,
                    start_time=t.start_time,
                    end_time=t.end_time,
                    last_update_time=t.last_update_time,
                )
                if keep:
                    fields["id"] = t.legacy_id
                model = TASK_CLASS[t.platform]
                own = {"celery_id": t.celery_id} if "celery_id" in CHILD_FIELDS[model] else {}
                tasks[model].append(model(**own, **fields))
            if p.input is not None:
                inputs.append(Input(simulation_id=simulation_id, compressed_data=p.input[1], **_id(keep, p.input[0])))
            if p.logfiles is not None:
                logfiles.append(
                    Logfiles(simulation_id=simulation_id, compressed_data=p.logfiles[1], **_id(keep, p.logfiles[0]))
                )
            for e in p.estimators:
                row = Estimator(
                    simulation_id=simulation_id,
                    name=e.name,
                    file_name=e.file_name,
                    position=e.position,
                    compressed_data=e.compressed_data,
                    **_id(keep, e.legacy_id),
                )
                estimators.append((e, row))
        for model, objects in tasks.items():
            bulk_create_polymorphic(model, objects)
        Input.objects.bulk_create(inputs)
        Logfiles.objects.bulk_create(logfiles)
        Estimator.objects.bulk_create([row for _, row in estimators])
        pages = [
            Page(
                estimator_id=row.pk,
                page_number=page.page_number,
                page_name=page.page_name,
                page_dimension=page.page_dimension,
                compressed_data=page.compressed_data,
                **_id(keep, page.legacy_id),
            )
            for e, row in estimators
            for page in e.pages
        ]
        Page.objects.bulk_create(pages, batch_size=500)

    def _count_written(self, planned: list[PlannedSimulation]) -> None:
        self.report.count("Simulation", "written", len(planned))
        self.report.count("Task", "written", sum(len(p.tasks) for p in planned))
        self.report.count("Input", "written", sum(p.input is not None for p in planned))
        self.report.count("Estimator", "written", sum(len(p.estimators) for p in planned))
        self.report.count("Page", "written", sum(len(e.pages) for p in planned for e in p.estimators))
        self.report.count(
            "Logfiles", "written", sum(p.logfiles is not None and p.logfiles[0] is not None for p in planned)
        )

    def _account_orphans(self) -> None:
        for table, ids in self.source.orphan_rows().items():
            self.report.count(table, "read", len(ids))
            self.report.count(table, "skipped", len(ids))
            event = "tasks_skipped" if table == "Task" else "inputs_skipped"
            for legacy_id in ids:
                self.report.add(event, {"id": legacy_id, "reason": "simulation_id is NULL"})


def _id(keep: bool, legacy_id: int | None) -> dict:
    return {"id": legacy_id} if keep and legacy_id is not None else {}
