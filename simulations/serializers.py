"""Request validation and response shapes of the simulations API (hot responses are built in views from rows)."""

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .choices import InputType, JobState, Platform, SimType

MAX_NTASKS = 1000


def any_case(field: str, values) -> RegexValidator:
    """The choice in any letter case, with spaces around: the rule the API schema states as a pattern."""
    alternatives = "|".join("".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in v) for v in values)
    return RegexValidator(
        rf"^\s*({alternatives})\s*$", f"unknown {field}; one of {', '.join(v.lower() for v in values)} (any case)"
    )


class SubmitSerializer(serializers.Serializer):
    """A submission (REFERENCE section 3); the platform's execution backend says whether it can take it."""

    title = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    sim_type = serializers.CharField(
        max_length=32,
        validators=[any_case("sim_type", SimType.values)],
        help_text="shieldhit, fluka, topas or dummy (any case).",
    )
    ntasks = serializers.IntegerField(min_value=1, max_value=MAX_NTASKS, help_text="Number of parallel tasks.")
    input_type = serializers.CharField(
        max_length=16,
        validators=[any_case("input_type", InputType.values)],
        help_text='"editor" (then input_json is required) or "files" (then input_files is required), any case.',
    )
    input_json = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="The editor project (input_type editor): an object whose beam.numberOfParticles is a whole "
        "number from 1 to 2^53 (a number or numeric text), nested at most 200 levels; the simulator converts it.",
    )
    input_files = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        allow_null=True,
        help_text="Simulator input files, name to text (input_type files), at least one; which files and what "
        "they must say (e.g. NSTAT of beam.dat, 1 to 2^53 primaries) is the simulator's rule.",
    )
    platform = serializers.CharField(
        max_length=16,
        required=False,
        validators=[any_case("platform", Platform.values)],
        help_text="DIRECT (default) or BATCH (Slurm; Keycloak users with a certificate), any case.",
    )
    cluster = serializers.CharField(
        max_length=255, required=False, help_text="BATCH: the cluster's name (or batch_options.cluster_name)."
    )
    batch_options = serializers.JSONField(
        required=False,
        help_text="BATCH: {array_options, array_header, collect_options, collect_header, cluster_name}; sbatch "
        "options from an allow-list (--time, --mem, --partition, --account, ...), headers of #SBATCH lines only.",
    )

    def validate_sim_type(self, value: str) -> str:
        value = value.strip().lower()
        if value not in SimType.values:
            raise serializers.ValidationError(f"unknown sim_type {value!r}; one of {', '.join(SimType.values)}")
        return value

    def validate_input_type(self, value: str) -> str:
        value = value.strip().upper()
        if value not in InputType.values:
            raise serializers.ValidationError(f"unknown input_type {value!r}; one of editor, files")
        return value

    def validate_platform(self, value: str) -> str:
        value = value.strip().upper()
        if value not in Platform.values:
            raise serializers.ValidationError(f"unknown platform {value!r}; one of DIRECT, BATCH")
        return value

    def validate(self, attrs):
        from clusters.models import Cluster

        cluster_name = attrs.pop("cluster", None)
        if cluster_name:
            attrs["cluster"] = Cluster.objects.filter(cluster_name=cluster_name).first()
            if attrs["cluster"] is None:
                raise serializers.ValidationError({"cluster": [f"unknown cluster {cluster_name!r}"]})
        elif isinstance(attrs.get("batch_options"), dict) and attrs["batch_options"].get("cluster_name"):
            # The old API names the cluster inside batch_options; the backend says so if it is unknown.
            name = str(attrs["batch_options"]["cluster_name"])
            attrs["cluster"] = Cluster.objects.filter(cluster_name=name).first()
        if attrs["input_type"] == InputType.EDITOR:
            if not isinstance(attrs.get("input_json"), dict):
                raise serializers.ValidationError({"input_json": ["input_type editor needs input_json (an object)"]})
            attrs["input_files"] = None
        else:
            if not attrs.get("input_files"):
                raise serializers.ValidationError({"input_files": ["input_type files needs input_files"]})
            attrs["input_json"] = None
        attrs.setdefault("platform", Platform.DIRECT)
        return attrs


class TaskSerializer(serializers.Serializer):
    task_id = serializers.IntegerField(help_text="Ordinal inside the simulation.")
    task_state = serializers.ChoiceField(choices=JobState.choices)
    requested_primaries = serializers.IntegerField()
    simulated_primaries = serializers.IntegerField()
    estimated_time = serializers.IntegerField(allow_null=True, help_text="Seconds left.")
    start_time = serializers.DateTimeField(allow_null=True)
    end_time = serializers.DateTimeField(allow_null=True)
    last_update_time = serializers.DateTimeField()


class SimulationItemSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    title = serializers.CharField()
    platform = serializers.ChoiceField(choices=Platform.choices)
    sim_type = serializers.ChoiceField(choices=SimType.choices)
    input_type = serializers.ChoiceField(choices=InputType.choices)
    job_state = serializers.ChoiceField(choices=JobState.choices)
    start_time = serializers.DateTimeField()
    end_time = serializers.DateTimeField(allow_null=True)
    task_count = serializers.IntegerField()
    requested_primaries = serializers.IntegerField()
    simulated_primaries = serializers.IntegerField()
    progress = serializers.FloatField(help_text="simulated / requested primaries, 0 to 1.")


class SimulationDetailSerializer(SimulationItemSerializer):
    cluster_name = serializers.CharField(allow_null=True)
    tasks = TaskSerializer(many=True)


class InputSerializer(serializers.Serializer):
    input_type = serializers.ChoiceField(choices=InputType.choices)
    input_json = serializers.JSONField(required=False, help_text="The editor project (EDITOR input).")
    input_files = serializers.DictField(child=serializers.CharField())
    number_of_all_primaries = serializers.IntegerField()
    primaries_per_task = serializers.IntegerField(required=False)


class LogfilesSerializer(serializers.Serializer):
    logfiles = serializers.DictField(child=serializers.CharField(), help_text="File name to text.")


class PageInfoSerializer(serializers.Serializer):
    page_number = serializers.IntegerField()
    page_name = serializers.CharField()
    page_dimension = serializers.IntegerField(help_text="0, 1 or 2.")


class EstimatorInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    file_name = serializers.CharField()
    pages = PageInfoSerializer(many=True)


class EstimatorListingSerializer(serializers.Serializer):
    estimators = EstimatorInfoSerializer(many=True)


@extend_schema_field(
    {
        "type": "object",
        "description": "A page as written by pymchelper (REFERENCE section 4).",
        "properties": {
            "metadata": {"type": "object", "additionalProperties": True},
            "dimensions": {"type": "integer", "enum": [0, 1, 2]},
            "data": {"type": "object", "additionalProperties": True},
            "axis_dim1": {"type": "object", "additionalProperties": True},
            "axis_dim2": {"type": "object", "additionalProperties": True},
        },
        "additionalProperties": True,
    }
)
class PageField(serializers.JSONField):
    pass


class EstimatorSerializer(serializers.Serializer):
    name = serializers.CharField()
    file_name = serializers.CharField()
    metadata = serializers.DictField()
    pages = serializers.ListField(child=PageField())


class ResultsSerializer(serializers.Serializer):
    estimators = EstimatorSerializer(many=True)


# --- worker channel -------------------------------------------------------------------------------


class WorkerSimulationUpdateSerializer(serializers.Serializer):
    """Documentation of a worker's simulation update (validated in worker.py without DRF fields)."""

    job_state = serializers.ChoiceField(choices=JobState.choices, required=False)
    end_time = serializers.DateTimeField(required=False, help_text="ISO 8601; a naive time is UTC.")
    job_dir = serializers.CharField(required=False, help_text="Batch only.")
    array_id = serializers.CharField(required=False, help_text="Batch only.")
    collect_id = serializers.CharField(required=False, help_text="Batch only.")


class WorkerSimulationStateSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    job_state = serializers.ChoiceField(choices=JobState.choices)
    end_time = serializers.DateTimeField(allow_null=True)


class WorkerTaskUpdateSerializer(serializers.Serializer):
    task_state = serializers.ChoiceField(choices=JobState.choices, required=False)
    requested_primaries = serializers.IntegerField(min_value=0, required=False)
    simulated_primaries = serializers.IntegerField(min_value=0, required=False)
    estimated_time = serializers.IntegerField(min_value=0, required=False, help_text="Seconds left.")
    start_time = serializers.DateTimeField(required=False, help_text="ISO 8601; a naive time is UTC.")
    end_time = serializers.DateTimeField(required=False, help_text="ISO 8601; a naive time is UTC.")
    celery_id = serializers.CharField(required=False, help_text="Celery tasks only.")


class WorkerResultsUploadSerializer(serializers.Serializer):
    estimators = serializers.ListField(child=serializers.DictField(), help_text="Estimators of REFERENCE section 4.")


class WorkerResultsStoredSerializer(serializers.Serializer):
    estimators = serializers.IntegerField(help_text="Estimators stored.")
    pages = serializers.IntegerField(help_text="Pages stored.")


class WorkerLogfilesSerializer(serializers.Serializer):
    logfiles = serializers.DictField(child=serializers.CharField(allow_blank=True), help_text="File name to text.")


class WorkerLogfilesStoredSerializer(serializers.Serializer):
    logfiles = serializers.ListField(child=serializers.CharField(), help_text="Names of the files sent.")
