"""The yaptide database, read-only: one snapshot, columns found by name, rows read in id-ordered batches.

The connection is opened read-only (`default_transaction_read_only`) and every read runs in one
REPEATABLE READ READ ONLY transaction, so the import sees one consistent snapshot and cannot write.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg
from psycopg.rows import dict_row

TABLES = (
    "User",
    "YaptideUser",
    "KeycloakUser",
    "Cluster",
    "Simulation",
    "CelerySimulation",
    "BatchSimulation",
    "Task",
    "CeleryTask",
    "BatchTask",
    "Input",
    "Estimator",
    "Page",
    "Logfiles",
)

# Columns that some yaptide schema versions lack; they read as NULL there.
OPTIONAL_COLUMNS = {
    ("Estimator", "file_name"),
    ("Page", "page_name"),
    ("Page", "page_dimension"),
    ("Task", "last_update_time"),
    ("Task", "estimated_time"),
    ("CelerySimulation", "merge_id"),
    ("CeleryTask", "celery_id"),
    ("BatchSimulation", "job_dir"),
    ("BatchSimulation", "array_id"),
    ("BatchSimulation", "collect_id"),
}


class SourceError(Exception):
    """The source is not a yaptide database this importer can read."""


def source_label(url: str) -> str:
    """host:port/database of a PostgreSQL URL, without user or password (the key of an import's state)."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


@dataclass
class SimulationRows:
    """One batch of simulations with every row that hangs off them, in the source's order."""

    simulations: list[dict]
    tasks: list[dict]
    inputs: list[dict]
    estimators: list[dict]
    pages: list[dict]
    logfiles: list[dict]

    CHILD_TABLES = {
        "tasks": "Task",
        "inputs": "Input",
        "estimators": "Estimator",
        "pages": "Page",
        "logfiles": "Logfiles",
    }

    def only(self, simulation_ids: set[int]) -> "SimulationRows":
        """The rows of these simulations only."""
        kept = {
            kind: [row for row in getattr(self, kind) if row["simulation_id"] in simulation_ids]
            for kind in self.CHILD_TABLES
        }
        return SimulationRows([row for row in self.simulations if row["id"] in simulation_ids], **kept)

    def counts(self) -> dict[str, int]:
        """Rows per legacy child table."""
        return {table: len(getattr(self, kind)) for kind, table in self.CHILD_TABLES.items()}


class _Stream:
    """The rows of one statement ordered by simulation_id, fetched a few hundred at a time (server-side cursor)."""

    def __init__(self, connection: psycopg.Connection, name: str, sql: str, itersize: int = 200):
        self.cursor = connection.cursor(name=f"legacy_{name}", row_factory=dict_row)
        self.cursor.itersize = itersize
        self.cursor.execute(sql)
        self._rows = iter(self.cursor)
        self._next = next(self._rows, None)

    def take_through(self, simulation_id: int) -> list[dict]:
        """The rows up to and including those of `simulation_id`."""
        taken = []
        while self._next is not None and self._next["simulation_id"] <= simulation_id:
            taken.append(self._next)
            self._next = next(self._rows, None)
        return taken


class LegacySource:
    """A read-only view of a yaptide database."""

    def __init__(self, url: str):
        try:
            self.connection = psycopg.connect(url, row_factory=dict_row, autocommit=True)
        except psycopg.Error as error:
            raise SourceError(f"cannot connect to the source: {error}".strip()) from None
        self.connection.execute("SET default_transaction_read_only = on")
        self.connection.execute("SET TIME ZONE 'UTC'")
        self.connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        self.columns = self._columns()
        self._streams: dict[str, _Stream] | None = None

    def close(self) -> None:
        try:
            self.connection.execute("ROLLBACK")
        except psycopg.Error:
            pass  # a broken connection has no transaction left to end
        self.connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _columns(self) -> dict[str, set[str]]:
        rows = self.connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
            [list(TABLES)],
        ).fetchall()
        columns: dict[str, set[str]] = {}
        for row in rows:
            columns.setdefault(row["table_name"], set()).add(row["column_name"])
        missing = [table for table in TABLES if table not in columns]
        if missing:
            raise SourceError(f"not a yaptide database: tables {', '.join(missing)} are missing")
        return columns

    def _col(self, table: str, column: str, alias: str) -> str:
        if column in self.columns[table]:
            return f'{alias}."{column}" AS "{column}"'
        if (table, column) in OPTIONAL_COLUMNS:
            return f'NULL AS "{column}"'
        raise SourceError(f"not a yaptide database: column {table}.{column} is missing")

    def _select(self, spec: list[tuple[str, str, str]]) -> str:
        return ", ".join(self._col(table, column, alias) for table, column, alias in spec)

    def _fetch(self, sql: str, params=()) -> list[dict]:
        return self.connection.execute(sql, params).fetchall()

    # --- counts -------------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Rows per table, for the report and the progress bar."""
        return {table: self._fetch(f'SELECT count(*) AS n FROM "{table}"')[0]["n"] for table in TABLES}

    def max_ids(self) -> dict[str, int]:
        """Largest id per parent table (sequences are moved past them when ids are kept)."""
        tables = ("User", "Cluster", "Simulation", "Task", "Input", "Estimator", "Page", "Logfiles")
        return {table: self._fetch(f'SELECT coalesce(max(id), 0) AS n FROM "{table}"')[0]["n"] for table in tables}

    def username_exists(self, username: str, auth_provider: str) -> bool:
        sql = 'SELECT 1 FROM "User" WHERE username = %s AND auth_provider = %s'
        return bool(self._fetch(sql, [username, auth_provider]))

    # --- users and clusters -------------------------------------------------------------------------

    def users(self, batch_size: int) -> Iterator[list[dict]]:
        columns = self._select(
            [
                ("User", "id", "u"),
                ("User", "username", "u"),
                ("User", "auth_provider", "u"),
                ("YaptideUser", "password_hash", "y"),
                ("KeycloakUser", "cert", "k"),
                ("KeycloakUser", "private_key", "k"),
            ]
        )
        sql = (
            f"SELECT {columns}, y.id IS NOT NULL AS has_local_row, k.id IS NOT NULL AS has_keycloak_row "
            'FROM "User" u LEFT JOIN "YaptideUser" y ON y.id = u.id LEFT JOIN "KeycloakUser" k ON k.id = u.id '
            "WHERE u.id > %s ORDER BY u.id LIMIT %s"
        )
        yield from self._keyset(sql, batch_size)

    def clusters(self) -> list[dict]:
        columns = self._select([("Cluster", "id", "c"), ("Cluster", "cluster_name", "c")])
        return self._fetch(f'SELECT {columns} FROM "Cluster" c ORDER BY c.id')

    # --- simulations --------------------------------------------------------------------------------

    def simulations(self, batch_size: Callable[[], int]) -> Iterator[list[dict]]:
        """Simulation rows (with their child-table columns) in id order, `batch_size()` at a time."""
        columns = self._select(
            [
                ("Simulation", "id", "s"),
                ("Simulation", "job_id", "s"),
                ("Simulation", "user_id", "s"),
                ("Simulation", "start_time", "s"),
                ("Simulation", "end_time", "s"),
                ("Simulation", "title", "s"),
                ("Simulation", "platform", "s"),
                ("Simulation", "input_type", "s"),
                ("Simulation", "sim_type", "s"),
                ("Simulation", "job_state", "s"),
                ("CelerySimulation", "merge_id", "c"),
                ("BatchSimulation", "cluster_id", "b"),
                ("BatchSimulation", "job_dir", "b"),
                ("BatchSimulation", "array_id", "b"),
                ("BatchSimulation", "collect_id", "b"),
            ]
        )
        sql = (
            f'SELECT {columns} FROM "Simulation" s LEFT JOIN "CelerySimulation" c ON c.id = s.id '
            'LEFT JOIN "BatchSimulation" b ON b.id = s.id WHERE s.id > %s ORDER BY s.id LIMIT %s'
        )
        yield from self._keyset(sql, batch_size)

    def children(self, simulations: list[dict]) -> SimulationRows:
        """Every row that hangs off these simulations (the next ones in id order after the previous call's).

        yaptide has no index on the child tables' simulation_id, so each child table is read once, in
        simulation order, through a server-side cursor: linear in the source's size, one batch in memory.
        """
        if self._streams is None:
            self._streams = {kind: _Stream(self.connection, kind, sql) for kind, sql in self._child_sql().items()}
        last = simulations[-1]["id"]
        rows = {kind: stream.take_through(last) for kind, stream in self._streams.items()}
        return SimulationRows(
            simulations, rows["tasks"], rows["inputs"], rows["estimators"], rows["pages"], rows["logfiles"]
        )

    def _child_sql(self) -> dict[str, str]:
        task_columns = self._select(
            [
                ("Task", "id", "t"),
                ("Task", "simulation_id", "t"),
                ("Task", "task_id", "t"),
                ("Task", "requested_primaries", "t"),
                ("Task", "simulated_primaries", "t"),
                ("Task", "task_state", "t"),
                ("Task", "estimated_time", "t"),
                ("Task", "start_time", "t"),
                ("Task", "end_time", "t"),
                ("Task", "platform", "t"),
                ("Task", "last_update_time", "t"),
                ("CeleryTask", "celery_id", "ct"),
            ]
        )
        input_columns = self._select(
            [("Input", "id", "i"), ("Input", "simulation_id", "i"), ("Input", "compressed_data", "i")]
        )
        estimator_columns = self._select(
            [
                ("Estimator", "id", "e"),
                ("Estimator", "simulation_id", "e"),
                ("Estimator", "name", "e"),
                ("Estimator", "file_name", "e"),
                ("Estimator", "compressed_data", "e"),
            ]
        )
        page_columns = self._select(
            [
                ("Page", "id", "p"),
                ("Estimator", "simulation_id", "e"),
                ("Page", "estimator_id", "p"),
                ("Page", "page_number", "p"),
                ("Page", "page_name", "p"),
                ("Page", "page_dimension", "p"),
                ("Page", "compressed_data", "p"),
            ]
        )
        log_columns = self._select(
            [("Logfiles", "id", "l"), ("Logfiles", "simulation_id", "l"), ("Logfiles", "compressed_data", "l")]
        )
        return {
            "tasks": f'SELECT {task_columns} FROM "Task" t LEFT JOIN "CeleryTask" ct ON ct.id = t.id '
            "WHERE t.simulation_id IS NOT NULL ORDER BY t.simulation_id, t.task_id, t.id",
            "inputs": f'SELECT {input_columns} FROM "Input" i WHERE i.simulation_id IS NOT NULL '
            "ORDER BY i.simulation_id, i.id",
            "estimators": f'SELECT {estimator_columns} FROM "Estimator" e ORDER BY e.simulation_id, e.id',
            "pages": f'SELECT {page_columns} FROM "Page" p JOIN "Estimator" e ON e.id = p.estimator_id '
            "ORDER BY e.simulation_id, p.estimator_id, p.page_number, p.id",
            "logfiles": f'SELECT {log_columns} FROM "Logfiles" l ORDER BY l.simulation_id, l.id',
        }

    def orphan_rows(self) -> dict[str, list[int]]:
        """Ids of tasks and inputs that belong to no simulation (their simulation_id is NULL)."""
        return {
            "Task": [row["id"] for row in self._fetch('SELECT id FROM "Task" WHERE simulation_id IS NULL ORDER BY id')],
            "Input": [
                row["id"] for row in self._fetch('SELECT id FROM "Input" WHERE simulation_id IS NULL ORDER BY id')
            ],
        }

    def _keyset(self, sql: str, batch_size: int | Callable[[], int]) -> Iterator[list[dict]]:
        last = -(2**31)  # below any serial id
        while True:
            rows = self._fetch(sql, [last, batch_size() if callable(batch_size) else batch_size])
            if not rows:
                return
            yield rows
            last = rows[-1]["id"]
