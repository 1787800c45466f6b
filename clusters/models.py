from django.db import models


class Cluster(models.Model):
    """An HPC cluster (Slurm) that batch simulations run on."""

    cluster_name = models.CharField(max_length=255, unique=True)

    def __str__(self):
        return self.cluster_name
