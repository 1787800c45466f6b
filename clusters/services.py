from django.db import IntegrityError, transaction

from yaptide_site.errors import Conflict, InvalidInput

from .models import Cluster


def cluster_create(*, cluster_name: str) -> Cluster:
    """Adds a cluster; its name must be unique."""
    cluster_name = (cluster_name or "").strip()
    if not cluster_name:
        raise InvalidInput("cluster_name must not be empty", field="cluster_name")
    try:
        with transaction.atomic():
            return Cluster.objects.create(cluster_name=cluster_name)
    except IntegrityError:
        raise Conflict(f"cluster {cluster_name!r} already exists", field="cluster_name") from None
