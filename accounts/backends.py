from django.contrib.auth.backends import ModelBackend

from .choices import AuthProvider


class LocalPasswordBackend(ModelBackend):
    """Password login for local (YaptideUser) accounts only; Keycloak users never log in with a password."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and user.auth_provider != AuthProvider.YAPTIDE:
            return None
        return user
