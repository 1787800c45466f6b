from django.urls import path, register_converter
from rest_framework.routers import SimpleRouter

from . import views, worker_api


class OrdinalConverter:
    """A task ordinal: digits that fit a database integer."""

    regex = "[0-9]{1,9}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(OrdinalConverter, "ordinal")

router = SimpleRouter()
router.register("simulations", views.SimulationViewSet, basename="simulation")

worker_urlpatterns = [
    path("simulations/<str:job_id>/", worker_api.WorkerSimulationView.as_view(), name="worker-simulation"),
    path("simulations/<str:job_id>/tasks/<ordinal:task_id>/", worker_api.WorkerTaskView.as_view(), name="worker-task"),
    path("simulations/<str:job_id>/results/", worker_api.WorkerResultsView.as_view(), name="worker-results"),
    path("simulations/<str:job_id>/logfiles/", worker_api.WorkerLogfilesView.as_view(), name="worker-logfiles"),
]

urlpatterns = router.urls
