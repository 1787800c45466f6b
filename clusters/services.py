from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from yaptide_site.errors import Conflict, InvalidInput

from . import slurm
from .models import MIN_POLL_SECONDS, Cluster
from .ssh import parse_host_keys

SSH_FIELDS = (
    "ssh_host",
    "ssh_port",
    "host_keys",
    "prelude",
    "scratch",
    "sbatch_options",
    "poll_seconds",
    "max_channels",
    "callback_url",
)


def cluster_settings_check(**fields) -> None:
    """Raises InvalidInput naming the first cluster setting that cannot work (host keys, sbatch options, limits)."""
    if fields.get("host_keys"):
        try:
            parse_host_keys(fields["host_keys"])
        except ValueError as error:
            raise InvalidInput(f"host_keys: {error}", field="host_keys") from None
    if fields.get("sbatch_options"):
        slurm.parse_sbatch_options(fields["sbatch_options"], "sbatch_options")
    if fields.get("poll_seconds") is not None and fields["poll_seconds"] < MIN_POLL_SECONDS:
        raise InvalidInput(f"poll_seconds must be at least {MIN_POLL_SECONDS}", field="poll_seconds")


def cluster_create(*, cluster_name: str, **settings) -> Cluster:
    """Adds a cluster; its name must be unique and its SSH and Slurm settings usable."""
    cluster_name = (cluster_name or "").strip()
    if not cluster_name:
        raise InvalidInput("cluster_name must not be empty", field="cluster_name")
    unknown = sorted(set(settings) - set(SSH_FIELDS))
    if unknown:
        raise InvalidInput(f"unknown cluster setting {unknown[0]!r}", field=unknown[0])
    settings = {name: value for name, value in settings.items() if value is not None}
    cluster_settings_check(**settings)
    cluster = Cluster(cluster_name=cluster_name, **settings)
    try:
        cluster.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise InvalidInput(f"{field}: {' '.join(messages)}", field=field) from None
    try:
        with transaction.atomic():
            cluster.save()
            return cluster
    except IntegrityError:
        raise Conflict(f"cluster {cluster_name!r} already exists", field="cluster_name") from None
