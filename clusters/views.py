from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.permissions import BasePermission, IsAuthenticated

from accounts.serializers import user_can_run_batch
from yaptide_site.api import error_responses

from .models import Cluster
from .serializers import ClusterSerializer


class CanRunBatch(BasePermission):
    message = "only Keycloak (PLGrid) users and staff can use HPC clusters"

    def has_permission(self, request, view):
        return user_can_run_batch(request.user)


@extend_schema(
    summary="HPC clusters batch jobs can run on",
    description="For Keycloak users and staff; other users get 403.",
    responses={200: ClusterSerializer(many=True), **error_responses(401, 403)},
)
class ClusterListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated, CanRunBatch]
    serializer_class = ClusterSerializer
    queryset = Cluster.objects.order_by("cluster_name")
    filter_backends: list = []
    pagination_class = None
