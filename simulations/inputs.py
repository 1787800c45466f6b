"""Reading what a submission's input says: the number of primaries, per input kind and simulator."""

import re
from typing import Any

from yaptide_site.errors import InvalidInput

from .choices import InputType, SimType

_NSTAT = re.compile(r"^\s*NSTAT\s+(-?\d+)", re.MULTILINE | re.IGNORECASE)
_FLUKA_START = re.compile(r"^START\b[ ,]*(\S+)", re.MULTILINE)
_TOPAS_HISTORIES = re.compile(r"^\s*i:So/[^/\s]+/NumberOfHistoriesInRun\s*=\s*(\d+)", re.MULTILINE)


def _positive_int(value: Any, where: str) -> int:
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        raise InvalidInput(f"{where} must be a number, got {value!r}") from None
    if number < 1:
        raise InvalidInput(f"{where} must be at least 1, got {number}")
    return number


def _file_ending(files: dict[str, str], suffix: str) -> tuple[str, str]:
    for name, text in files.items():
        if name.endswith(suffix):
            return name, text
    raise InvalidInput(f"input_files has no {suffix} file")


def count_primaries(
    *, sim_type: str, input_type: str, input_json: dict | None, input_files: dict[str, str] | None
) -> int:
    """The number of primaries the input asks for; InvalidInput says what is missing or wrong."""
    if input_type == InputType.EDITOR:
        beam = (input_json or {}).get("beam")
        if not isinstance(beam, dict) or "numberOfParticles" not in beam:
            raise InvalidInput("input_json.beam.numberOfParticles is missing", field="input_json")
        return _positive_int(beam["numberOfParticles"], "input_json.beam.numberOfParticles")

    files = input_files or {}
    if sim_type == SimType.FLUKA:
        name, text = _file_ending(files, ".inp")
        found = _FLUKA_START.search(text)
        if not found:
            raise InvalidInput(f"{name} has no START card")
        return _positive_int(found.group(1), f"START card of {name}")
    if sim_type == SimType.TOPAS:
        name, text = _file_ending(files, ".txt")
        found = _TOPAS_HISTORIES.search(text)
        if not found:
            raise InvalidInput(f"{name} has no NumberOfHistoriesInRun parameter")
        return _positive_int(found.group(1), f"NumberOfHistoriesInRun in {name}")
    # SHIELD-HIT12A form, also read by the dummy simulator.
    if "beam.dat" not in files:
        raise InvalidInput("input_files has no beam.dat", field="input_files")
    found = _NSTAT.search(files["beam.dat"])
    if not found:
        raise InvalidInput("beam.dat has no NSTAT line", field="input_files")
    return _positive_int(found.group(1), "NSTAT in beam.dat")
