"""The site's URLs with the old routes under /yaptide instead of the site root."""

from yaptide_compat.urls import build
from yaptide_site.urls import urlpatterns as site_urlpatterns

urlpatterns = site_urlpatterns[:-1] + build("yaptide")
