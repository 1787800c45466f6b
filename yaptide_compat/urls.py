"""The old routes at YAPTIDE_COMPAT_PREFIX (default: the site root), exactly as the UI writes them: no
trailing slash, no redirect. Anything else under the prefix is a JSON 404, except the site's own areas."""

import re

from django.conf import settings
from django.http import HttpResponsePermanentRedirect
from django.urls import Resolver404, path, re_path, resolve
from django.views.decorators.csrf import csrf_exempt

from . import views

ROUTES = [
    ("auth/login", views.LoginView),
    ("auth/refresh", views.RefreshView),
    ("auth/logout", views.LogoutView),
    ("auth/register", views.RegisterView),
    ("auth/status", views.StatusView),
    ("auth/keycloak", views.KeycloakView),
    ("jobs/direct", views.DirectJobView),
    ("jobs/batch", views.BatchJobView),
    ("jobs", views.JobStatusView),
    ("user/simulations", views.UserSimulationsView),
    ("inputs", views.InputsView),
    ("estimators", views.EstimatorsView),
    ("results", views.ResultsView),
    ("logfiles", views.LogfilesView),
    ("clusters", views.ClustersView),
]


@csrf_exempt
def unknown_route(request, *args, **kwargs):
    """A JSON 404 for an address that names no old route. A site address written without its slash
    (`/admin`, `/health`) still gets the slash added, as Django's APPEND_SLASH would."""
    if not request.path.endswith("/") and request.method in ("GET", "HEAD"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not unknown_route:
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(request.path + "/" + (f"?{query}" if query else ""))
    return views.not_found(request)


def build(prefix: str) -> list:
    """The URL patterns of the old routes under `prefix` (no slashes at either end; empty = site root)."""
    base = f"{prefix}/" if prefix else ""
    patterns = [path(base, views.HelloView.as_view(), name="compat-hello")]
    if prefix:
        patterns.append(path(prefix, views.HelloView.as_view()))
    patterns += [path(base + route, view.as_view(), name=f"compat-{route}") for route, view in ROUTES]
    # Last: everything else under the prefix, but never the static files.
    static = re.escape(settings.STATIC_URL.strip("/") + "/")
    patterns.append(re_path(rf"^{re.escape(base)}(?!{static})", unknown_route))
    return patterns


urlpatterns = build(settings.YAPTIDE_COMPAT_PREFIX)
