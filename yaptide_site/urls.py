from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from simulations.urls import worker_urlpatterns
from yaptide_site.api import api_not_found
from yaptide_site.health import health

api_urlpatterns = [
    path("worker/", include(worker_urlpatterns)),  # first: the most frequent requests resolve soonest
    path("auth/", include("accounts.urls")),
    path("", include("simulations.urls")),
    path("", include("clusters.urls")),
    # Public documentation: no authentication runs, so a stale cookie never hides the docs.
    path("schema/", SpectacularAPIView.as_view(authentication_classes=[]), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[]), name="swagger-ui"),
    path(
        "redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="api/redoc.html", authentication_classes=[]),
        name="redoc",
    ),
    re_path(r"", api_not_found),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api_urlpatterns)),
    path("health/", health, name="health"),
    # Last: the old yaptide API (its prefix defaults to the site root, so it takes what is left).
    path("", include("yaptide_compat.urls")),
]
