from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

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
    path(
        "docs/",
        # The split view serves Swagger UI's start script as a file: the Content-Security-Policy allows no inline one.
        SpectacularSwaggerSplitView.as_view(url_name="schema", authentication_classes=[]),
        name="swagger-ui",
    ),
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

# Errors under /api/ are JSON, a 500 too (with the request id its log line carries); the rest are Django's pages.
handler400 = "yaptide_site.api.bad_request"
handler403 = "yaptide_site.api.permission_denied"
handler404 = "yaptide_site.api.page_not_found"
handler500 = "yaptide_site.api.server_error"
