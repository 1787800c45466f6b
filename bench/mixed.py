"""The "mixed" result profile of the benchmark: about 1.29 MB of results JSON, as a worker uploads it.

- estimator `dose_map`: 3 pages of 2-D 200 x 200 bins, about 62% exact zeros, other values full-precision floats;
- estimator `z_profile`: 4 pages of 1-D 1,000 bins;
- estimators `slab_a` and `slab_b`: 7 pages of 0-D each.

Deterministic for a given seed; standard library only, so the load processes need no Django.
"""

import json
import random

OUTPUT_NAMES = ("dose_map", "z_profile", "slab_a", "slab_b")
QUANTITIES = ("DOSE", "FLUENCE", "LET", "DOSE_GRAY", "ENERGY", "PROTONS", "ALANINE")


def _axis(name: str, bins: int, start: float, stop: float) -> dict:
    width = (stop - start) / bins
    return {"name": name, "unit": "cm", "values": [start + (i + 0.5) * width for i in range(bins)]}


def _page(number: int, dimensions: int, values: list[float], axes: list[dict]) -> dict:
    quantity = QUANTITIES[number % len(QUANTITIES)]
    page = {
        "metadata": {
            "page_number": str(number),
            "name": quantity,
            "unit": "MeV/g",
            "dettyp": quantity,
            "page_normalized": "2",
        },
        "dimensions": dimensions,
        "data": {"name": quantity, "unit": "MeV/g", "values": values},
    }
    for index, axis in enumerate(axes, start=1):
        page[f"axis_dim{index}"] = axis
    return page


def _dose_map(rng: random.Random, nx: int, ny: int) -> list[float]:
    """A beam-shaped map: zero outside a disc around the beam axis (about 62% of the bins)."""
    values = []
    for y in range(ny):
        for x in range(nx):
            dx, dy = (x - nx / 2) / (nx * 0.348), (y - ny / 2) / (ny * 0.348)
            r2 = dx * dx + dy * dy
            if r2 >= 1.0:
                values.append(0.0)
            else:  # the beam's core, then a faint halo of tiny doses at its edge
                values.append(rng.lognormvariate(3.0, 1.5) if r2 < 0.85 else rng.lognormvariate(-11.0, 1.0))
    return values


def _estimator(name: str, geotyp: str, pages: list[dict]) -> dict:
    return {
        "name": f"{name}_",
        "metadata": {
            "file_corename": f"{name}_",
            "page_count": str(len(pages)),
            "number_of_primaries": "100000",
            "geotyp": geotyp,
            "geo_name": f"{name}_mesh",
        },
        "pages": pages,
    }


def mixed_estimators(seed: int = 5) -> list[dict]:
    """The estimators of one mixed upload (in editor output order)."""
    rng = random.Random(seed)
    x_axis, y_axis, z_axis = _axis("Position (X)", 200, -5, 5), _axis("Position (Y)", 200, -5, 5), None
    z_axis = _axis("Position (Z)", 1000, 0, 20)
    dose_map = [_page(n, 2, _dose_map(rng, 200, 200), [x_axis, y_axis]) for n in range(3)]
    profile = [_page(n, 1, [rng.lognormvariate(2.0, 1.0) for _ in range(1000)], [z_axis]) for n in range(4)]
    slabs = [[_page(n, 0, [rng.lognormvariate(2.0, 1.0)], []) for n in range(7)] for _ in range(2)]
    return [
        _estimator("dose_map", "MSH", dose_map),
        _estimator("z_profile", "CYL", profile),
        _estimator("slab_a", "CYL", slabs[0]),
        _estimator("slab_b", "CYL", slabs[1]),
    ]


def mixed_body(seed: int = 5) -> bytes:
    """The request body of one results upload: compact JSON as json.dumps writes it (1.29 MB)."""
    return json.dumps({"estimators": mixed_estimators(seed)}, separators=(",", ":")).encode()


def mixed_pages(seed: int = 5) -> list[dict]:
    """Every page of the mixed profile, for the codec and JSON references."""
    return [page for estimator in mixed_estimators(seed) for page in estimator["pages"]]


def editor_input(primaries: int = 100_000) -> dict:
    """An editor project whose scoring outputs are the mixed profile's estimators."""
    detector = {
        "name": "Mesh",
        "uuid": "det-1",
        "geometryData": {
            "geometryType": "Mesh",
            "position": [0, 0, 10],
            "parameters": {"width": 10, "height": 10, "depth": 20, "xSegments": 200, "ySegments": 200, "zSegments": 1},
        },
    }
    return {
        "metadata": {"version": "1.0"},
        "project": {"title": "benchmark"},
        "beam": {"energy": 150.0, "numberOfParticles": primaries, "particle": {"id": 2, "a": 1, "z": 1}},
        "detectorManager": {"detectors": [detector]},
        "scoringManager": {
            "outputs": [
                {"name": name, "detectorUuid": "det-1", "quantities": [{"name": "Dose", "keyword": "Dose"}]}
                for name in OUTPUT_NAMES
            ]
        },
    }


def cylinder_project(primaries: int, *, seconds: float | None = None) -> dict:
    """A small editor project: one cylinder scored along z in 100 bins (a 1-D page a task); `seconds` is the
    dummy simulator's run time of each task."""
    detector = {
        "name": "CylZ",
        "uuid": "det-1",
        "geometryData": {
            "geometryType": "Cyl",
            "position": [0, 0, 10],
            "parameters": {"radius": 5, "innerRadius": 0, "depth": 20, "radialSegments": 1, "zSegments": 100},
        },
    }
    project = {
        "metadata": {"version": "1.0"},
        "project": {"title": "benchmark"},
        "beam": {"energy": 150.0, "numberOfParticles": primaries, "particle": {"id": 2, "a": 1, "z": 1}},
        "detectorManager": {"detectors": [detector]},
        "scoringManager": {
            "outputs": [
                {"name": "z_profile", "detectorUuid": "det-1", "quantities": [{"name": "Dose", "keyword": "Dose"}]}
            ]
        },
    }
    if seconds is not None:
        project["dummy"] = {"seconds": seconds}
    return project


if __name__ == "__main__":
    body = mixed_body()
    zeros = sum(v == 0.0 for v in mixed_estimators()[0]["pages"][0]["data"]["values"]) / 40_000
    print(f"{len(body):,} bytes, 2-D zeros {zeros:.1%}")
