"""The site's URLs plus one API view with a bug, to see what a 500 looks like."""

from django.urls import path

from yaptide_site import urls as site_urls
from yaptide_site.urls import *  # noqa: F403  (handler400 ... handler500)


def broken_view(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [path("api/boom/", broken_view), path("boom/", broken_view), *site_urls.urlpatterns]
