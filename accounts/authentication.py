from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import update_last_login
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken

from .selectors import token_user

ACCESS_COOKIE = "access_token"
REFRESH_COOKIE = "refresh_token"
# Our tokens carry a stamp of the user's password hash: a password change makes every earlier token invalid.
STAMP_CLAIM = "pwd"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def auth_stamp(user) -> str:
    return salted_hmac("accounts.token-stamp", user.password or "").hexdigest()[:20]


def check_stamp(token, user) -> None:
    """Refuses a token issued before the user's last password change (every token our sign-in views mint has one)."""
    stamp = token.get(STAMP_CLAIM)
    if stamp is not None and not (isinstance(stamp, str) and constant_time_compare(stamp, auth_stamp(user))):
        raise AuthenticationFailed(_("Token was revoked"), code="token_revoked")


def refresh_token_for(user) -> RefreshToken:
    """A new refresh token of the user, stamped (its access tokens copy the stamp) so a password change revokes it."""
    refresh = RefreshToken.for_user(user)
    refresh[STAMP_CLAIM] = auth_stamp(user)
    return refresh


def sign_in_tokens(user) -> RefreshToken:
    """The tokens of a user who just signed in (any way, on either API face); the admin shows the last login."""
    update_last_login(None, user)
    return refresh_token_for(user)


def require_allowed_origin(request) -> None:
    """CSRF defence for cookie-authenticated unsafe requests: Origin (or Referer) must be this site or a trusted one.

    Browsers send Origin on every cross-site and same-site POST/PUT/PATCH/DELETE; scripts use the Bearer header.
    """
    if request.method in SAFE_METHODS:
        return
    origin = request.META.get("HTTP_ORIGIN")
    if not origin:
        referer = urlsplit(request.META.get("HTTP_REFERER", ""))
        origin = f"{referer.scheme}://{referer.netloc}" if referer.scheme and referer.netloc else ""
    own = f"{'https' if request.is_secure() else 'http'}://{request.get_host()}"
    if origin and origin in {own, *settings.CSRF_TRUSTED_ORIGINS, *settings.CORS_ALLOWED_ORIGINS}:
        return
    raise exceptions.PermissionDenied(
        "a cookie-authenticated request that changes data needs an Origin header of this site or a trusted one "
        f"(got {origin or 'none'}); scripts send Authorization: Bearer instead"
    )


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
        user = self.get_user(token)
        require_allowed_origin(request)
        return user, token

    def get_user(self, validated_token):
        """The token's user in one plain query (runs on every request; views need only these columns)."""
        try:
            user_id = int(validated_token[api_settings.USER_ID_CLAIM])
        except (KeyError, TypeError, ValueError):
            raise InvalidToken(_("Token contained no recognizable user identification")) from None
        user = token_user(user_id)
        if user is None or not user.is_active:
            raise AuthenticationFailed(_("User not found or inactive"), code="user_not_found")
        check_stamp(validated_token, user)
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
