"""Results and logfiles: idempotent upserts in a fixed number of queries, and the outcome of a merge."""

from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import F

from yaptide_site.errors import InvalidInput, StorageExceeded

from .. import sql
from ..choices import InputType
from ..models import Estimator, Input, Logfiles, Page, Simulation
from ..payloads import compress_json


def _editor_output_names(simulation: Simulation) -> list[str]:
    if simulation.input_type != InputType.EDITOR:
        return []
    inp = Input.objects.filter(simulation_id=simulation.pk).first()
    project = (inp.data or {}).get("input_json") or {} if inp else {}
    outputs = (project.get("scoringManager") or {}).get("outputs") or []
    return [output.get("name", "") for output in outputs if isinstance(output, dict)]


def _estimator_position(names: list[str], name: str, file_name: str, fallback: int) -> tuple[int, str]:
    """Position and name of an estimator: the editor output it belongs to, else after all outputs."""
    for position, output_name in enumerate(names):
        if output_name in (name, file_name, file_name.rstrip("_")):
            return position, output_name
    return len(names) + fallback, name


MAX_NAME = 255  # the name columns of Estimator and Page
MAX_PAGE_NUMBER = 2**31 - 1  # Page.page_number is a 32-bit integer column


def _checked_name(value: Any, where: str) -> str:
    """A name for a name column: text of at most MAX_NAME characters without NUL (PostgreSQL refuses it)."""
    value = str(value)
    if len(value) > MAX_NAME or "\x00" in value:
        raise InvalidInput(f"{where} must be at most {MAX_NAME} characters without NUL", field="estimators")
    return value


def _validated_estimator(estimator: Any, index: int) -> tuple[str, str, dict, list]:
    where = f"estimators[{index}]"
    if not isinstance(estimator, dict):
        raise InvalidInput(f"{where} must be an object", field="estimators")
    metadata = estimator.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise InvalidInput(f"{where}.metadata must be an object", field="estimators")
    name = estimator.get("name") or metadata.get("file_corename")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{where}.name is missing", field="estimators")
    file_name = metadata.get("file_corename") or name
    pages = estimator.get("pages")
    if not isinstance(pages, list):
        raise InvalidInput(f"{where}.pages must be a list", field="estimators")
    return _checked_name(name, f"{where}.name"), _checked_name(file_name, f"{where}.file_corename"), metadata, pages


def _validated_page(page: Any, where: str, fallback_number: int) -> tuple[int, str, int]:
    if not isinstance(page, dict):
        raise InvalidInput(f"{where} must be an object", field="estimators")
    metadata = page.get("metadata") or {}
    dimensions = page.get("dimensions")
    if not isinstance(metadata, dict) or dimensions not in (0, 1, 2):
        raise InvalidInput(f"{where} needs metadata and dimensions 0, 1 or 2", field="estimators")
    try:
        number = int(metadata.get("page_number", fallback_number))
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"{where}.metadata.page_number must be a number", field="estimators") from None
    if not 0 <= number <= MAX_PAGE_NUMBER:
        raise InvalidInput(f"{where}.metadata.page_number must be from 0 to {MAX_PAGE_NUMBER}", field="estimators")
    data = page.get("data")
    name = metadata.get("name") or (data.get("name") if isinstance(data, dict) else None) or ""
    return number, _checked_name(name, f"{where}.metadata.name"), dimensions


def _check_results_size(simulation: Simulation, page_rows: dict) -> None:
    """Refuses an upload that would take the job's stored pages past MAX_JOB_RESULTS_MEGABYTES (pages sent again
    replace their earlier bytes)."""
    limit = settings.MAX_JOB_RESULTS_MEGABYTES * 1024 * 1024
    kept = sum(size or 0 for file_name, number, size in sql.result_page_sizes(simulation.pk) if (file_name, number)
               not in page_rows)  # fmt: skip
    total = kept + sum(len(row[3]) for row in page_rows.values())
    if total > limit:
        raise StorageExceeded(
            f"a job stores at most {settings.MAX_JOB_RESULTS_MEGABYTES} MB of results (MAX_JOB_RESULTS_MEGABYTES); "
            f"this upload makes {total // (1024 * 1024)} MB",
            field="estimators",
        )


@transaction.atomic
def results_store(*, simulation: Simulation, estimators: list[dict]) -> list[Estimator]:
    """Upserts estimators on (simulation, file_name) and pages on (estimator, page_number) in one transaction.

    Sending the same results again leaves the same rows. Uses a fixed number of queries for any size.
    """
    if not isinstance(estimators, list):
        raise InvalidInput("estimators must be a list", field="estimators")
    sql.simulation_locked(simulation.pk)
    names = _editor_output_names(simulation)
    estimator_rows: dict[str, Estimator] = {}
    page_rows: dict[tuple[str, int], tuple[int, str, int, bytes]] = {}
    for index, estimator in enumerate(estimators):
        name, file_name, metadata, pages = _validated_estimator(estimator, index)
        position, name = _estimator_position(names, name, file_name, index)
        row = Estimator(simulation_id=simulation.pk, name=name, file_name=file_name, position=position)
        row.data = metadata
        estimator_rows[file_name] = row
        for page_index, page in enumerate(pages):
            number, page_name, dimension = _validated_page(page, f"estimators[{index}].pages[{page_index}]", page_index)
            page_rows[(file_name, number)] = (number, page_name, dimension, compress_json(orjson.dumps(page)))
    if not estimator_rows:
        return []
    _check_results_size(simulation, page_rows)
    Simulation.objects.filter(pk=simulation.pk).update(results_version=F("results_version") + 1)
    Estimator.objects.bulk_create(
        sorted(estimator_rows.values(), key=lambda row: row.file_name),
        update_conflicts=True,
        unique_fields=["simulation", "file_name"],
        update_fields=["name", "position", "compressed_data"],
    )
    ids = dict(
        Estimator.objects.filter(simulation_id=simulation.pk, file_name__in=estimator_rows).values_list(
            "file_name", "id"
        )
    )
    pages = [
        Page(estimator_id=ids[file_name], page_number=number, page_name=name, page_dimension=dim, compressed_data=blob)
        for (file_name, _), (number, name, dim, blob) in sorted(page_rows.items())
    ]
    if pages:
        Page.objects.bulk_create(
            pages,
            update_conflicts=True,
            unique_fields=["estimator", "page_number"],
            update_fields=["page_name", "page_dimension", "compressed_data"],
        )
    return list(Estimator.objects.filter(pk__in=ids.values()).defer("compressed_data"))


@transaction.atomic
def logfiles_store(*, simulation: Simulation, logfiles: dict[str, str]) -> Logfiles:
    """Adds log files to a simulation's logfiles (a file sent again replaces its earlier text)."""
    if not isinstance(logfiles, dict) or not all(isinstance(v, str) for v in logfiles.values()):
        raise InvalidInput("logfiles must map file names to text", field="logfiles")
    sql.simulation_locked(simulation.pk)
    row, _ = Logfiles.objects.get_or_create(simulation_id=simulation.pk)
    row.data = {**(row.data or {}), **logfiles}
    row.save(update_fields=["compressed_data"])
    return row
