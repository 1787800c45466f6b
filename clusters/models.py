from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

MIN_POLL_SECONDS = 10


class Cluster(models.Model):
    """An HPC cluster (Slurm) that batch simulations run on, reached over SSH with each user's certificate."""

    cluster_name = models.CharField(max_length=255, unique=True)
    ssh_host = models.CharField(max_length=255, blank=True, default="", help_text="Login node host name or address.")
    ssh_port = models.PositiveIntegerField(default=22, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    host_keys = models.TextField(
        blank=True,
        default="",
        help_text="The login node's public host keys, one per line ('ssh-ed25519 AAAA...' or known_hosts lines, "
        "e.g. from ssh-keyscan checked against the site's published fingerprints). Connections to a host whose key "
        "is not listed are refused: there is no trust on first use.",
    )
    prelude = models.TextField(
        blank=True,
        default="",
        help_text="Shell lines run before Slurm commands and in every job script (e.g. 'module load python').",
    )
    scratch = models.CharField(
        max_length=1024,
        default="$SCRATCH",
        help_text="Shell expression of the folder that job folders go under, evaluated on the login node.",
    )
    sbatch_options = models.CharField(
        max_length=1024,
        blank=True,
        default="",
        help_text="sbatch options for every job on this cluster (e.g. '--partition=plgrid --account=plgyaptide').",
    )
    poll_seconds = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(MIN_POLL_SECONDS)],
        help_text=f"How often the reconciler asks Slurm about active jobs (at least {MIN_POLL_SECONDS} s).",
    )
    max_channels = models.PositiveSmallIntegerField(
        default=8,
        validators=[MinValueValidator(1), MaxValueValidator(64)],
        help_text="Concurrent SSH channels per connection; keep it below the server's MaxSessions (often 10).",
    )
    callback_url = models.URLField(
        blank=True,
        default="",
        help_text="The backend's URL as compute nodes reach it; empty when they cannot (the reconciler then "
        "collects states and results over SSH).",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(poll_seconds__gte=MIN_POLL_SECONDS), name="cluster_poll_seconds_min"
            ),
            models.CheckConstraint(
                condition=models.Q(max_channels__gte=1, max_channels__lte=64), name="cluster_max_channels_range"
            ),
        ]

    def __str__(self):
        return self.cluster_name

    @property
    def reachable(self) -> bool:
        """Configured for SSH: a host and at least one pinned host key."""
        return bool(self.ssh_host and self.host_keys.strip())
