"""(Django side of bench/availability.py) Jobs with results of a chosen size, stored by the services."""

import random

from django.conf import settings

from simulations.choices import Platform
from simulations.execution.celery import CeleryBackend
from simulations.services import results_store, simulation_submit

BINS = 200  # a 200 x 200 2-D page is about 0.8 MB of JSON
PAGES_PER_ESTIMATOR = 5


class _HeldBackend(CeleryBackend):
    """No simulation workers run in this benchmark: the jobs are finished by hand."""

    def dispatch(self, **kwargs) -> None:
        pass


settings.SIMULATION_BACKENDS = {**settings.SIMULATION_BACKENDS, Platform.DIRECT: f"{__name__}._HeldBackend"}


def _page(number: int, rng: random.Random) -> dict:
    axis = [i + 0.5 for i in range(BINS)]
    return {
        "metadata": {"page_number": str(number), "name": "DOSE", "unit": "MeV/g"},
        "dimensions": 2,
        "data": {"name": "DOSE", "unit": "MeV/g", "values": [rng.random() for _ in range(BINS * BINS)]},
        "axis_dim1": {"name": "Position (X)", "unit": "cm", "values": axis},
        "axis_dim2": {"name": "Position (Z)", "unit": "cm", "values": axis},
    }


def finished_job_with_results(*, user, megabytes: float) -> str:
    """A dummy job whose results are about `megabytes` MB of JSON; returns its job_id."""
    from bench.mixed import editor_input

    rng = random.Random(14)
    simulation, _ = simulation_submit(
        user=user, sim_type="dummy", input_type="EDITOR", ntasks=1, input_json=editor_input(1000)
    )
    pages = max(1, round(megabytes / 0.8))
    estimators = []
    for e in range(0, pages, PAGES_PER_ESTIMATOR):
        count = min(PAGES_PER_ESTIMATOR, pages - e)
        estimators.append(
            {
                "name": f"mesh{e // PAGES_PER_ESTIMATOR}_",
                "metadata": {"file_corename": f"mesh{e // PAGES_PER_ESTIMATOR}_"},
                "pages": [_page(n, rng) for n in range(count)],
            }
        )
    if megabytes < 0.8:
        estimators = [{"name": "small_", "metadata": {}, "pages": [_small_page(rng)]}]
    results_store(simulation=simulation, estimators=estimators)  # readable in any state; the job stays PENDING
    return simulation.job_id


def _small_page(rng: random.Random) -> dict:
    return {
        "metadata": {"page_number": "0", "name": "DOSE", "unit": "MeV/g"},
        "dimensions": 1,
        "data": {"name": "DOSE", "unit": "MeV/g", "values": [rng.random() for _ in range(10_000)]},
        "axis_dim1": {"name": "Position (Z)", "unit": "cm", "values": [i + 0.5 for i in range(10_000)]},
    }
