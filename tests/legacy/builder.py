"""Builds yaptide (Flask) databases for import tests and the benchmark: the schema as yaptide made it, rows as
yaptide wrote them (gzip level 9 of json.dumps with default settings, werkzeug password hashes).

Each LegacyDatabase is a fresh PostgreSQL database `legacy_src_<random>` on the server of Django's default
database; drop() removes it.
"""

import gzip
import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import psycopg
from django.conf import settings

# The two schema variants of yaptide at 0c84dff7 (flask db upgrade; db.create_all), as pg_dump wrote them.
SCHEMAS = Path(__file__).resolve().parent / "schemas"


def gz(data) -> bytes | None:
    """A payload as yaptide stored it."""
    if data is None:
        return None
    return gzip.compress(json.dumps(data).encode(), compresslevel=9)


def server_url(database: str) -> str:
    db = settings.DATABASES["default"]
    auth = quote(db.get("USER") or "postgres")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgresql://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{database}"


def schema_sql(variant: str) -> str:
    """A schema file with psql's meta-commands (\\restrict) left out, so psycopg can run it."""
    text = (SCHEMAS / f"schema-{variant}.sql").read_text()
    return "\n".join(line for line in text.splitlines() if not line.startswith("\\"))


class LegacyDatabase:
    """A yaptide database with helpers that insert rows the way yaptide's ORM did."""

    def __init__(self, variant: str = "migrated"):
        self.name = f"legacy_src_{secrets.token_hex(6)}"
        with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        self.url = server_url(self.name)
        self.connection = psycopg.connect(self.url, autocommit=True)
        self.connection.execute(schema_sql(variant))
        self.connection.execute("SET search_path = public")
        self.connection.execute("SET TIME ZONE 'UTC'")

    def drop(self) -> None:
        self.connection.close()
        with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _insert(self, table: str, values: dict) -> int:
        returning = " RETURNING id" if "id" not in values or values["id"] is None else ""
        values = {k: v for k, v in values.items() if not (k == "id" and v is None)}
        columns = ", ".join(f'"{c}"' for c in values)
        placeholders = ", ".join(["%s"] * len(values))
        cursor = self.connection.execute(
            f'INSERT INTO public."{table}" ({columns}) VALUES ({placeholders}){returning}', list(values.values())
        )
        return cursor.fetchone()[0] if returning else values["id"]

    def execute(self, sql: str, params=()):
        return self.connection.execute(sql, params)

    def add_user(self, username, provider="YaptideUser", *, password_hash=None, cert=None, private_key=None, id=None):
        user_id = self._insert("User", {"id": id, "username": username, "auth_provider": provider})
        if provider == "YaptideUser":
            self._insert("YaptideUser", {"id": user_id, "password_hash": password_hash})
        else:
            self._insert("KeycloakUser", {"id": user_id, "cert": cert, "private_key": private_key})
        return user_id

    def add_cluster(self, name) -> int:
        return self._insert("Cluster", {"cluster_name": name})

    def add_simulation(
        self,
        *,
        user_id,
        platform="DIRECT",
        job_state="COMPLETED",
        title="",
        start_time=None,
        end_time=None,
        input_type="EDITOR",
        sim_type="shieldhit",
        merge_id=None,
        cluster_id=None,
        job_dir=None,
        array_id=None,
        collect_id=None,
        job_id=None,
        id=None,
    ) -> tuple[int, str]:
        job_id = job_id or f"20240101-120000-{secrets.token_hex(16)}{platform}"
        sim_id = self._insert(
            "Simulation",
            {
                "id": id,
                "job_id": job_id,
                "user_id": user_id,
                "start_time": start_time,
                "end_time": end_time,
                "title": title,
                "platform": platform,
                "input_type": input_type,
                "sim_type": sim_type,
                "job_state": job_state,
            },
        )
        if start_time is None:  # yaptide's server default: the database's now()
            self.execute('UPDATE "Simulation" SET start_time = now() WHERE id = %s', [sim_id])
        if platform == "DIRECT":
            self._insert("CelerySimulation", {"id": sim_id, "merge_id": merge_id})
        else:
            self._insert(
                "BatchSimulation",
                {
                    "id": sim_id,
                    "cluster_id": cluster_id,
                    "job_dir": job_dir,
                    "array_id": array_id,
                    "collect_id": collect_id,
                },
            )
        return sim_id, job_id

    def add_task(
        self,
        sim_id,
        task_id,
        *,
        platform="DIRECT",
        task_state="COMPLETED",
        requested=1000,
        simulated=None,
        estimated_time=None,
        start_time=None,
        end_time=None,
        last_update_time=None,
        celery_id="",
    ) -> int:
        row_id = self._insert(
            "Task",
            {
                "simulation_id": sim_id,
                "task_id": task_id,
                "requested_primaries": requested,
                "simulated_primaries": requested if simulated is None else simulated,
                "task_state": task_state,
                "estimated_time": estimated_time,
                "start_time": start_time,
                "end_time": end_time,
                "platform": platform,
                "last_update_time": last_update_time,
            },
        )
        if platform == "DIRECT":
            self._insert("CeleryTask", {"id": row_id, "celery_id": celery_id})
        else:
            self._insert("BatchTask", {"id": row_id})
        return row_id

    def add_input(self, sim_id, data) -> int:
        return self._insert("Input", {"simulation_id": sim_id, "compressed_data": gz(data)})

    def add_estimator(self, sim_id, name, file_name, metadata) -> int:
        return self._insert(
            "Estimator",
            {"simulation_id": sim_id, "name": name, "file_name": file_name, "compressed_data": gz(metadata)},
        )

    def add_page(self, estimator_id, page_number, page, *, name=None, dimension=None, raw: bytes | None = None) -> int:
        blob = raw if raw is not None else gz(page)
        if page is not None:
            name = page["metadata"]["name"] if name is None else name
            dimension = page["dimensions"] if dimension is None else dimension
        return self._insert(
            "Page",
            {
                "estimator_id": estimator_id,
                "page_number": page_number,
                "page_name": name or "",
                "page_dimension": dimension or 0,
                "compressed_data": blob,
            },
        )

    def add_logfiles(self, sim_id, files) -> int:
        return self._insert("Logfiles", {"simulation_id": sim_id, "compressed_data": gz(files)})

    def checksum(self) -> dict[str, str]:
        """md5 of every table's rows in id order: equal before and after an import that never wrote."""
        tables = [r[0] for r in self.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
        return {
            table: self.execute(
                f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM public.\"{table}\" t"
            ).fetchone()[0]
            for table in tables
        }


def page_json(number: int, name: str, values: list, dimensions: int = 1) -> dict:
    """A page as pymchelper wrote it (REFERENCE section 4)."""
    page = {
        "metadata": {"page_number": str(number), "name": name, "unit": "MeV/g", "dettyp": name},
        "dimensions": dimensions,
        "data": {"name": name, "unit": "MeV/g", "values": values},
    }
    if dimensions >= 1:
        page["axis_dim1"] = {"name": "Position (Z)", "unit": "cm", "values": [float(i) for i in range(len(values))]}
    return page


def naive_utc(**delta) -> datetime:
    """A worker's time: naive UTC with microseconds (yaptide stored them into timestamptz as UTC)."""
    return (datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC) + timedelta(**delta)).replace(tzinfo=None)
