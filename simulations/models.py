from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from polymorphic.models import PolymorphicModel

from clusters.models import Cluster

from .choices import InputType, JobState, Platform, SimType
from .payloads import CompressedPayload


class Simulation(PolymorphicModel):
    """A simulation job of one user, split into tasks; the child class says where it runs."""

    PLATFORM: str = ""

    job_id = models.CharField(max_length=64, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="simulations")
    start_time = models.DateTimeField(db_default=Now(), editable=False)
    end_time = models.DateTimeField(null=True, blank=True)
    title = models.CharField(max_length=255, blank=True, default="")
    platform = models.CharField(max_length=16, choices=Platform.choices, editable=False)
    input_type = models.CharField(max_length=16, choices=InputType.choices)
    sim_type = models.CharField(max_length=16, choices=SimType.choices)
    job_state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.UNKNOWN)
    update_key_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    results_version = models.PositiveIntegerField(
        default=0, editable=False, help_text="Bumped by every results upload; part of the results ETag."
    )
    stored_bytes = models.BigIntegerField(
        db_default=0,
        editable=False,
        help_text="Compressed bytes of its input, results and logs, kept by database triggers.",
    )

    class Meta:
        indexes = [
            models.Index(fields=["user", "-start_time", "-id"], name="simulation_user_newest"),
            models.Index(fields=["job_state"], name="simulation_job_state"),
        ]

    def save(self, *args, **kwargs):
        # The discriminator follows the class, never input.
        if self.PLATFORM:
            self.platform = self.PLATFORM
        if not self._state.adding and kwargs.get("update_fields") is None:
            # stored_bytes is the database's to keep: a save of a loaded row must not write back a stale figure.
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name != "stored_bytes"
            ]
        super().save(*args, **kwargs)

    def __str__(self):
        return self.job_id


class CelerySimulation(Simulation):
    """A simulation run directly by Celery workers."""

    PLATFORM = Platform.DIRECT

    merge_id = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        verbose_name = "Celery simulation"


class BatchSimulation(Simulation):
    """A simulation run as a Slurm job array on an HPC cluster."""

    PLATFORM = Platform.BATCH

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, null=True, blank=True, related_name="simulations")
    job_dir = models.CharField(max_length=1024, blank=True, default="")
    array_id = models.CharField(max_length=64, blank=True, default="")
    collect_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        verbose_name = "batch simulation"


class Task(PolymorphicModel):
    """One parallel part of a simulation; task_id is its ordinal inside the simulation."""

    PLATFORM: str = ""

    simulation = models.ForeignKey(Simulation, on_delete=models.CASCADE, related_name="tasks")
    task_id = models.PositiveIntegerField()
    requested_primaries = models.BigIntegerField(default=0)
    simulated_primaries = models.BigIntegerField(default=0)
    task_state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.PENDING)
    estimated_time = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds left.")
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    last_update_time = models.DateTimeField(db_default=Now())
    platform = models.CharField(max_length=16, choices=Platform.choices, editable=False)
    dispatch_count = models.PositiveSmallIntegerField(
        default=1, editable=False, help_text="How often the task was handed to its platform (lost ones are resent)."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["simulation", "task_id"], name="task_unique_ordinal")]
        indexes = [
            models.Index(fields=["task_state", "last_update_time"], name="task_state_last_update"),
            # Whether a job has unfinished or completed tasks is an index probe, however many tasks it has.
            models.Index(fields=["simulation", "task_state"], name="task_simulation_state"),
        ]

    def save(self, *args, **kwargs):
        if self.PLATFORM:
            self.platform = self.PLATFORM
        super().save(*args, **kwargs)

    def __str__(self):
        return f"task {self.task_id} of {self.simulation.job_id}"


class CeleryTask(Task):
    """A task run by a Celery worker; celery_id is assigned before dispatch so a cancel can revoke it."""

    PLATFORM = Platform.DIRECT
    FIRST_ORDINAL = 0

    celery_id = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        verbose_name = "Celery task"


class BatchTask(Task):
    """A task run as one element of a Slurm job array (task_id = SLURM_ARRAY_TASK_ID)."""

    PLATFORM = Platform.BATCH
    FIRST_ORDINAL = 1

    class Meta:
        verbose_name = "batch task"


# The simulation and task classes of each platform.
PLATFORM_CLASSES: dict[str, tuple[type[Simulation], type[Task]]] = {
    Platform.DIRECT: (CelerySimulation, CeleryTask),
    Platform.BATCH: (BatchSimulation, BatchTask),
}


class Input(CompressedPayload):
    """The input of a simulation: editor project or simulator files, and the number of primaries."""

    simulation = models.OneToOneField(Simulation, on_delete=models.CASCADE, related_name="input")

    def __str__(self):
        return f"input of {self.simulation.job_id}"


class Estimator(CompressedPayload):
    """One scored output of a simulation; data holds the estimator's metadata dict."""

    simulation = models.ForeignKey(Simulation, on_delete=models.CASCADE, related_name="estimators")
    name = models.CharField(max_length=255)
    file_name = models.CharField(max_length=255)
    position = models.PositiveIntegerField(default=0, help_text="Order of the editor's scoring outputs.")

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["simulation", "file_name"], name="estimator_unique_file_name")]

    def __str__(self):
        return f"{self.name} of {self.simulation.job_id}"


class Page(CompressedPayload):
    """One quantity of an estimator; data holds the whole page JSON."""

    estimator = models.ForeignKey(Estimator, on_delete=models.CASCADE, related_name="pages")
    page_number = models.PositiveIntegerField()
    page_name = models.CharField(max_length=255, blank=True, default="")
    page_dimension = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["page_number"]
        constraints = [models.UniqueConstraint(fields=["estimator", "page_number"], name="page_unique_number")]

    def __str__(self):
        return f"page {self.page_number} of {self.estimator}"


class Logfiles(CompressedPayload):
    """Logs of a simulation: a dict of file name to text."""

    simulation = models.OneToOneField(Simulation, on_delete=models.CASCADE, related_name="logfiles")

    class Meta:
        verbose_name_plural = "logfiles"

    def __str__(self):
        return f"logfiles of {self.simulation.job_id}"


class SimulationCount(models.Model):
    """How many simulations a user has in each job state and the bytes they store, kept by database triggers
    (migrations 0004 and 0007) on every write of a simulation or a payload, so a list's count and a submit's
    storage check are reads of a few rows."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    job_state = models.CharField(max_length=16, choices=JobState.choices)
    count = models.BigIntegerField(default=0)
    stored_bytes = models.BigIntegerField(db_default=0, help_text="The stored_bytes of these simulations, summed.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "job_state"], name="simulation_count_unique")]

    def __str__(self):
        return f"{self.count} {self.job_state} of {self.user_id}"
