import re
from datetime import UTC, datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from simulations.choices import InputType, JobState, Platform, SimType
from simulations.models import (
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
from simulations.services import job_id_new
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db

JOB_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{32}(DIRECT|BATCH)$")


def make_simulation(user, cls=CelerySimulation, **fields) -> Simulation:
    fields.setdefault("job_id", job_id_new(cls.PLATFORM))
    return cls.objects.create(user=user, sim_type=SimType.DUMMY, input_type=InputType.EDITOR, **fields)


def field_names(model) -> set[str]:
    return {f.name for f in model._meta.local_concrete_fields}


def test_models_have_the_reference_fields():
    assert field_names(Simulation) >= {
        "id",
        "job_id",
        "user",
        "start_time",
        "end_time",
        "title",
        "platform",
        "input_type",
        "sim_type",
        "job_state",
        "update_key_hash",
    }
    assert field_names(CelerySimulation) >= {"merge_id"}
    assert field_names(BatchSimulation) >= {"cluster", "job_dir", "array_id", "collect_id"}
    assert field_names(Task) >= {
        "id",
        "simulation",
        "task_id",
        "requested_primaries",
        "simulated_primaries",
        "task_state",
        "estimated_time",
        "start_time",
        "end_time",
        "platform",
        "last_update_time",
    }
    assert field_names(CeleryTask) >= {"celery_id"}
    assert field_names(Input) >= {"id", "simulation", "compressed_data"}
    assert field_names(Estimator) >= {"id", "simulation", "name", "file_name", "compressed_data"}
    assert field_names(Page) >= {"id", "estimator", "page_number", "page_name", "page_dimension", "compressed_data"}
    assert field_names(Logfiles) >= {"id", "simulation", "compressed_data"}


def test_choices_are_the_reference_values():
    assert set(JobState.values) == {
        "UNKNOWN",
        "PENDING",
        "RUNNING",
        "MERGING_QUEUED",
        "MERGING_RUNNING",
        "COMPLETED",
        "FAILED",
        "CANCELED",
    }
    assert set(Platform.values) == {"DIRECT", "BATCH"}
    assert set(InputType.values) == {"EDITOR", "FILES"}
    assert set(SimType.values) == {"shieldhit", "fluka", "topas", "dummy"}


def test_new_simulation_defaults(user):
    before = timezone.now()
    simulation = make_simulation(user)
    simulation.refresh_from_db()

    assert simulation.title == ""
    assert simulation.job_state == JobState.UNKNOWN
    assert simulation.end_time is None
    assert simulation.update_key_hash == ""
    assert (
        before - timezone.timedelta(seconds=5)
        <= simulation.start_time
        <= timezone.now() + timezone.timedelta(seconds=5)
    )
    assert simulation.merge_id == ""
    assert str(simulation) == simulation.job_id


def test_batch_simulation_fields(user):
    cluster = ClusterFactory()
    simulation = make_simulation(
        user, BatchSimulation, cluster=cluster, job_dir="/scratch/job", array_id="101", collect_id="102"
    )

    fresh = Simulation.objects.get(pk=simulation.pk)

    assert type(fresh) is BatchSimulation
    assert (fresh.cluster, fresh.job_dir, fresh.array_id, fresh.collect_id) == (cluster, "/scratch/job", "101", "102")


def test_platform_comes_from_the_class_not_from_input(user):
    celery = make_simulation(user, CelerySimulation, platform=Platform.BATCH)
    batch = make_simulation(user, BatchSimulation, platform=Platform.DIRECT)
    celery_task = CeleryTask.objects.create(simulation=celery, task_id=0, platform=Platform.BATCH)
    batch_task = BatchTask.objects.create(simulation=batch, task_id=1, platform=Platform.DIRECT)

    rows = dict(Simulation.objects.non_polymorphic().values_list("pk", "platform"))
    assert rows == {celery.pk: "DIRECT", batch.pk: "BATCH"}
    tasks = dict(Task.objects.non_polymorphic().values_list("pk", "platform"))
    assert tasks == {celery_task.pk: "DIRECT", batch_task.pk: "BATCH"}


def test_simulation_and_task_queries_return_the_child_classes(user):
    celery = make_simulation(user, CelerySimulation, merge_id="merge-1")
    batch = make_simulation(user, BatchSimulation, job_dir="/d")
    CeleryTask.objects.create(simulation=celery, task_id=0, celery_id="c0")
    BatchTask.objects.create(simulation=batch, task_id=1)

    simulations = {s.pk: s for s in Simulation.objects.all()}
    tasks = {t.simulation_id: t for t in Task.objects.all()}

    assert type(simulations[celery.pk]) is CelerySimulation and simulations[celery.pk].merge_id == "merge-1"
    assert type(simulations[batch.pk]) is BatchSimulation and simulations[batch.pk].job_dir == "/d"
    assert type(tasks[celery.pk]) is CeleryTask and tasks[celery.pk].celery_id == "c0"
    assert type(tasks[batch.pk]) is BatchTask
    assert list(user.simulations.order_by("id")) == [simulations[celery.pk], simulations[batch.pk]]
    assert {type(s) for s in Simulation.objects.non_polymorphic()} == {Simulation}
    assert list(CelerySimulation.objects.all()) == [simulations[celery.pk]]


def test_polymorphic_type_is_recorded_per_row(user):
    batch = make_simulation(user, BatchSimulation)

    ctype = Simulation.objects.non_polymorphic().get(pk=batch.pk).polymorphic_ctype

    assert ctype == ContentType.objects.get_for_model(BatchSimulation, for_concrete_model=False)


def test_job_id_has_the_reference_format():
    for platform in ("DIRECT", "BATCH"):
        job_id = job_id_new(platform)
        assert JOB_ID.match(job_id)
        assert job_id.endswith(platform)
        made = datetime.strptime(job_id[:15], "%Y%m%d-%H%M%S").replace(tzinfo=UTC)
        assert abs((timezone.now() - made).total_seconds()) < 5
    assert job_id_new("DIRECT") != job_id_new("DIRECT")


def test_submitted_job_ids_end_with_their_platform(submit):
    celery, _ = submit()
    batch, _ = submit(platform="BATCH")

    assert JOB_ID.match(celery.job_id) and celery.job_id.endswith("DIRECT")
    assert JOB_ID.match(batch.job_id) and batch.job_id.endswith("BATCH")


def test_job_id_is_unique(user):
    make_simulation(user, job_id="20250101-000000-abcDIRECT")

    with pytest.raises(IntegrityError), transaction.atomic():
        make_simulation(user, job_id="20250101-000000-abcDIRECT")


def test_task_ordinal_is_unique_per_simulation(user):
    first = make_simulation(user)
    second = make_simulation(user)
    CeleryTask.objects.create(simulation=first, task_id=0)
    CeleryTask.objects.create(simulation=second, task_id=0)  # the same ordinal in another simulation is fine

    with pytest.raises(IntegrityError), transaction.atomic():
        CeleryTask.objects.create(simulation=first, task_id=0)


def test_estimator_file_name_is_unique_per_simulation(user):
    first = make_simulation(user)
    second = make_simulation(user)
    Estimator.objects.create(simulation=first, name="z", file_name="z_")
    Estimator.objects.create(simulation=second, name="z", file_name="z_")

    with pytest.raises(IntegrityError), transaction.atomic():
        Estimator.objects.create(simulation=first, name="other", file_name="z_")


def test_page_number_is_unique_per_estimator(user):
    simulation = make_simulation(user)
    first = Estimator.objects.create(simulation=simulation, name="a", file_name="a_")
    second = Estimator.objects.create(simulation=simulation, name="b", file_name="b_")
    Page.objects.create(estimator=first, page_number=0, page_dimension=1)
    Page.objects.create(estimator=second, page_number=0, page_dimension=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        Page.objects.create(estimator=first, page_number=0, page_dimension=2)


def test_input_and_logfiles_are_one_per_simulation(user):
    simulation = make_simulation(user)
    Input.objects.create(simulation=simulation)
    Logfiles.objects.create(simulation=simulation)

    with pytest.raises(IntegrityError), transaction.atomic():
        Input.objects.create(simulation=simulation)
    with pytest.raises(IntegrityError), transaction.atomic():
        Logfiles.objects.create(simulation=simulation)
    assert simulation.input.simulation_id == simulation.pk and simulation.logfiles.simulation_id == simulation.pk


def test_task_defaults_and_fields(user):
    simulation = make_simulation(user)
    task = CeleryTask.objects.create(simulation=simulation, task_id=3, requested_primaries=10**12)
    task.refresh_from_db()

    assert task.task_state == JobState.PENDING
    assert (task.requested_primaries, task.simulated_primaries) == (10**12, 0)
    assert task.estimated_time is None and task.start_time is None and task.end_time is None
    assert task.last_update_time is not None
    assert task.celery_id == ""
    assert list(simulation.tasks.all()) == [task]


def test_estimator_and_page_fields_and_order(user):
    simulation = make_simulation(user)
    late = Estimator.objects.create(simulation=simulation, name="late", file_name="l_", position=2)
    early = Estimator.objects.create(simulation=simulation, name="early", file_name="e_", position=0)
    Page.objects.create(estimator=early, page_number=2, page_name="FLUENCE", page_dimension=2)
    Page.objects.create(estimator=early, page_number=0, page_name="DOSE", page_dimension=0)

    assert list(simulation.estimators.all()) == [early, late]
    assert list(early.pages.values_list("page_number", "page_name", "page_dimension")) == [
        (0, "DOSE", 0),
        (2, "FLUENCE", 2),
    ]


def test_deleting_a_simulation_cascades_to_everything_it_owns(user):
    simulation = make_simulation(user)
    kept = make_simulation(user)
    for owner in (simulation, kept):
        CeleryTask.objects.create(simulation=owner, task_id=0)
        Input.objects.create(simulation=owner)
        Logfiles.objects.create(simulation=owner)
        estimator = Estimator.objects.create(simulation=owner, name="z", file_name="z_")
        Page.objects.create(estimator=estimator, page_number=0, page_dimension=1)

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # the database itself cascades (ON DELETE CASCADE)
            cursor.execute("DELETE FROM simulations_simulation WHERE id = %s", [simulation.pk])
    else:
        Simulation.objects.non_polymorphic().filter(pk=simulation.pk).delete()

    for model in (Task, CeleryTask, Input, Logfiles, Estimator):
        assert list(model.objects.values_list("simulation_id", flat=True)) == [kept.pk], model
    assert list(Page.objects.values_list("estimator__simulation_id", flat=True)) == [kept.pk]
    assert list(CelerySimulation.objects.values_list("pk", flat=True)) == [kept.pk]
