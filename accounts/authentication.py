from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings

from .selectors import token_user

ACCESS_COOKIE = "access_token"
REFRESH_COOKIE = "refresh_token"


class CookieOrHeaderJWTAuthentication(JWTAuthentication):
    """Our own JWTs, from `Authorization: Bearer` (scripts) or the HttpOnly `access_token` cookie (browsers)."""

    def authenticate(self, request):
        header = self.get_header(request)
        if header is not None:
            return super().authenticate(request)
        raw = request.COOKIES.get(ACCESS_COOKIE)
        if not raw:
            return None
        token = self.get_validated_token(raw.encode())
        return self.get_user(token), token

    def get_user(self, validated_token):
        """The token's user in one plain query (runs on every request; views need only these columns)."""
        try:
            user_id = int(validated_token[api_settings.USER_ID_CLAIM])
        except (KeyError, TypeError, ValueError):
            raise InvalidToken(_("Token contained no recognizable user identification")) from None
        user = token_user(user_id)
        if user is None or not user.is_active:
            raise AuthenticationFailed(_("User not found or inactive"), code="user_not_found")
        return user


class CookieOrHeaderJWTScheme(OpenApiAuthenticationExtension):
    """Documents our JWT: a Bearer header (scripts) or the HttpOnly access_token cookie (browsers)."""

    target_class = CookieOrHeaderJWTAuthentication
    name = ["jwtBearer", "jwtCookie"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            {"type": "apiKey", "in": "cookie", "name": ACCESS_COOKIE},
        ]
