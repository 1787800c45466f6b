"""What an import read, wrote, merged, renamed, closed and skipped, with the job_ids and usernames concerned."""

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

COUNTERS = ("read", "written", "already_imported", "merged", "renamed", "closed", "skipped")

# Each event list, with the sentence the readable summary uses for it.
EVENTS = {
    "users_renamed": "users renamed (the new system cannot sign in with the old name)",
    "users_locked_out": "local users locked out (no usable password: they need a new one from an operator)",
    "users_matched": "users mapped onto an existing user of the same name and provider",
    "keycloak_keys_unparsable": "Keycloak users whose private key does not parse (copied as stored)",
    "clusters_merged": "clusters with a duplicate name merged into the first",
    "simulations_closed": "unfinished jobs (or jobs with unfinished tasks) closed at import",
    "simulations_orphaned": "simulations without an owner given to the placeholder user",
    "titles_truncated": "titles over 255 characters truncated (full title here)",
    "simulations_skipped": "simulations skipped",
    "times_filled": "NOT NULL times that were NULL, filled",
    "tasks_skipped": "tasks skipped",
    "tasks_fixed": "task values the new constraints refuse, fixed",
    "inputs_merged": "simulations with several Input rows (the first kept)",
    "inputs_skipped": "inputs skipped",
    "estimators_merged": "duplicate estimators merged (the one with pages kept, pages united)",
    "names_truncated": "estimator or page names over 255 characters truncated",
    "pages_merged": "duplicate pages merged (the first with data kept)",
    "pages_null": "pages without data (NULL), stored as JSON null",
    "payloads_nonfinite": "payloads with NaN/Infinity, stored with null instead",
    "payloads_unreadable": "payloads that do not decompress or parse (copied as stored)",
    "logfiles_merged": "simulations with several Logfiles rows merged into one (colliding names renamed)",
}


class ImportReport:
    """Counters per legacy table and lists of events; written as JSON with a readable summary."""

    def __init__(self, *, source: str, dry_run: bool):
        self.source = source
        self.dry_run = dry_run
        self.started_at = datetime.now(UTC)
        self.finished_at: datetime | None = None
        self.complete = False
        self.ids: dict[str, str] = {}
        self.source_rows: dict[str, int] = {}
        self.tables: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
        self.events: dict[str, list] = {name: [] for name in EVENTS}

    def count(self, table: str, counter: str, n: int = 1) -> None:
        self.tables[table][counter] += n

    def add(self, event: str, entry) -> None:
        self.events[event].append(entry)

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "complete": self.complete,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "ids": self.ids,
            "source_rows": self.source_rows,
            "tables": {table: dict(counters) for table, counters in self.tables.items()},
            "events": self.events,
            "summary": self.summary_lines(),
        }

    def summary_lines(self) -> list[str]:
        verb = " (dry run: written = would be written)" if self.dry_run else ""
        state = "complete" if self.complete else "stopped before the end (run the command again to resume)"
        lines = [f"Import of {self.source}: {state}."]
        if self.ids:
            lines.append("Ids: " + ", ".join(f"{group} {how}" for group, how in self.ids.items()) + ".")
        width = max((len(table) for table in self.tables), default=5)
        header = f"{'table':<{width}}  " + "  ".join(f"{name:>16}" for name in COUNTERS)
        lines += ["", f"Rows per yaptide table{verb}:", header]
        for table, counters in self.tables.items():
            lines.append(f"{table:<{width}}  " + "  ".join(f"{counters[name]:>16}" for name in COUNTERS))
        for event, sentence in EVENTS.items():
            entries = self.events[event]
            if entries:
                lines += ["", f"{len(entries)} {sentence}:"]
                lines += [f"  {_describe(entry)}" for entry in entries[:50]]
                if len(entries) > 50:
                    lines.append(f"  ... and {len(entries) - 50} more (all in the JSON report)")
        return lines

    def summary(self) -> str:
        return "\n".join(self.summary_lines())

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.as_dict(), indent=2, ensure_ascii=False, default=str) + "\n")


def _short(value) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and len(value) > 60:
        return repr(value[:40]) + f"... ({len(value)} characters, in full in the JSON report)"
    return repr(value)


def _describe(entry) -> str:
    if isinstance(entry, dict):
        return ", ".join(f"{key}={_short(value)}" for key, value in entry.items())
    return _short(entry)
