"""factory-boy factories for the models. A job made with the submit service is the `submit` fixture; these
make rows directly (many at once, any state), through the bulk insert of polymorphic children."""

import itertools

import factory

from accounts.models import KeycloakUser, YaptideUser
from clusters.models import Cluster
from simulations.choices import JobState
from simulations.models import BatchSimulation, BatchTask, CelerySimulation, CeleryTask
from yaptide_site.db import bulk_create_polymorphic

_job_numbers = itertools.count()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = YaptideUser
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery-1")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class KeycloakUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeycloakUser

    username = factory.Sequence(lambda n: f"plg{n}")


class ClusterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cluster

    cluster_name = factory.Sequence(lambda n: f"cluster{n}")


class CelerySimulationFactory(factory.django.DjangoModelFactory):
    """A DIRECT job row with `tasks` tasks (default 2) in the job's state; no input, no dispatch."""

    class Meta:
        model = CelerySimulation
        skip_postgeneration_save = True

    class Params:
        platform = "DIRECT"

    job_id = factory.LazyAttribute(lambda o: f"20250101-000000-{next(_job_numbers):032x}{o.platform}")
    user = factory.SubFactory(UserFactory)
    sim_type = "dummy"
    input_type = "EDITOR"
    job_state = JobState.COMPLETED

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return bulk_create_polymorphic(model_class, [model_class(*args, **kwargs)])[0]

    @factory.post_generation
    def tasks(obj, create, extracted, **kwargs):
        if create and extracted != 0:
            tasks_create(obj, extracted or 2)


class BatchSimulationFactory(CelerySimulationFactory):
    """A BATCH job row on a cluster, tasks numbered from 1."""

    class Meta:
        model = BatchSimulation

    class Params:
        platform = "BATCH"

    cluster = factory.SubFactory(ClusterFactory)


def simulations_create(count: int, factory_class=CelerySimulationFactory, **fields) -> list:
    """`count` job rows without tasks in a few statements (factory-boy's create_batch inserts one at a time)."""
    rows = factory_class.build_batch(count, **fields)
    return bulk_create_polymorphic(factory_class._meta.model, rows)


def tasks_create(simulation, count: int, **fields) -> list:
    """`count` tasks of a job row in the job's state, numbered as its platform numbers them."""
    task_class = CeleryTask if isinstance(simulation, CelerySimulation) else BatchTask
    fields.setdefault("task_state", simulation.job_state)
    first = task_class.FIRST_ORDINAL
    return bulk_create_polymorphic(
        task_class, (task_class(simulation=simulation, task_id=n, **fields) for n in range(first, first + count))
    )


def editor_project(*, primaries: int = 1000, outputs: tuple[str, ...] = ("z_profile",), energy: float = 150.0) -> dict:
    """A minimal editor project: a proton beam, one cylinder detector segmented along z, one output per name."""
    detector = {
        "name": "CylZ",
        "uuid": "det-1",
        "geometryData": {
            "geometryType": "Cyl",
            "position": [0, 0, 10],
            "parameters": {"radius": 5, "innerRadius": 0, "depth": 20, "radialSegments": 1, "zSegments": 100},
        },
    }
    return {
        "metadata": {"version": "1.0"},
        "project": {"title": "test"},
        "beam": {"energy": energy, "numberOfParticles": primaries, "particle": {"id": 2, "a": 1, "z": 1}},
        "detectorManager": {"detectors": [detector]},
        "scoringManager": {
            "outputs": [
                {"name": name, "detectorUuid": "det-1", "quantities": [{"name": "Dose", "keyword": "Dose"}]}
                for name in outputs
            ]
        },
    }


def result_page(*, number: int = 0, dimensions: int = 1, bins: int = 10, name: str = "DOSE") -> dict:
    """A page as pymchelper writes it (REFERENCE section 4), with `bins` per axis."""
    size = 1 if dimensions == 0 else bins**dimensions
    page = {
        "metadata": {"page_number": str(number), "name": name, "unit": "MeV/g", "dettyp": name},
        "dimensions": dimensions,
        "data": {"name": name, "unit": "MeV/g", "values": [0.5 + i * 1.25 for i in range(size)]},
    }
    for axis in range(1, dimensions + 1):
        page[f"axis_dim{axis}"] = {"name": f"Position {axis}", "unit": "cm", "values": [i + 0.5 for i in range(bins)]}
    return page


def result_estimator(*, file_name: str = "z_profile_", pages: int = 2, dimensions: int = 1, bins: int = 10) -> dict:
    """An estimator with `pages` pages, as a worker uploads it."""
    return {
        "name": file_name,
        "metadata": {"file_corename": file_name, "page_count": str(pages), "geotyp": "CYL"},
        "pages": [result_page(number=n, dimensions=dimensions, bins=bins) for n in range(pages)],
    }


def job_in_state(simulation, state: str, end_time=None) -> None:
    """Test setup: the job row in `state` as if it had got there (its tasks are left as they are)."""
    from simulations.models import Simulation

    Simulation.objects.filter(pk=simulation.pk).update(job_state=state, end_time=end_time)


def tasks_complete(simulation) -> None:
    """Every task of the job COMPLETED through the services: the job then waits for its merge."""
    from simulations.services import TaskUpdate, task_apply_update

    for task_id in simulation.tasks.values_list("task_id", flat=True):
        task_apply_update(simulation=simulation, task_id=task_id, update=TaskUpdate(task_state=JobState.COMPLETED))
