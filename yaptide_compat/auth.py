"""Cookie-only sign-in for the old routes: our JWTs in the `access_token` and `refresh_token` cookies.

The tokens are the native API's (accounts), so one login serves both faces. What differs is the carrier
and the refresh: the old routes read cookies only (no Bearer header, no admin session), and a refresh
issues a new access token without rotating the refresh token, because the UI's tabs share one cookie
jar and refresh on their own timers; a rotated-and-blacklisted token would log out every other tab.
"""

from django.conf import settings
from rest_framework import exceptions
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.authentication import (
    ACCESS_COOKIE,
    REFRESH_COOKIE,
    CookieOrHeaderJWTAuthentication,
    check_stamp,
    require_allowed_origin,
)
from accounts.models import User

from .envelope import epoch_ms

NO_TOKEN = "No token provided"


def cookie_path() -> str:
    """The path both cookies are set on: the prefix of the old routes, so every route sees them."""
    prefix = settings.YAPTIDE_COMPAT_PREFIX
    return f"/{prefix}" if prefix else "/"


def _token_error(error: TokenError, *, refresh: bool) -> exceptions.AuthenticationFailed:
    reason = "Signature expired." if isinstance(error, ExpiredTokenError) else "Invalid token."
    return exceptions.AuthenticationFailed(f"{'Log in again.' if refresh else 'Refresh access token.'} {reason}")


class AccessCookieAuthentication(CookieOrHeaderJWTAuthentication):
    """The `access_token` cookie, and nothing else: a missing cookie is anonymous (401 `No token provided`)."""

    def authenticate(self, request):
        raw = request.COOKIES.get(ACCESS_COOKIE)
        if not raw:
            return None
        try:
            token = AccessToken(raw)
        except TokenError as error:
            raise _token_error(error, refresh=False) from None
        user = self._active_user(token)
        require_allowed_origin(request)  # CSRF: a cookie-authenticated write must come from an allowed origin
        return user, token

    def _active_user(self, token):
        try:
            return self.get_user(token)  # also refuses a token issued before a password change
        except exceptions.AuthenticationFailed as error:
            revoked = "revoked" in str(error.detail)
            raise exceptions.AuthenticationFailed(
                "Refresh access token. Invalid token." if revoked else "User not found"
            ) from None

    def authenticate_header(self, request):
        return f'Cookie realm="yaptide", cookie="{ACCESS_COOKIE}"'


def refresh_token_of(request) -> tuple[User, RefreshToken]:
    """The user and refresh token of the `refresh_token` cookie; raises the old API's 401 / 403 errors."""
    raw = request.COOKIES.get(REFRESH_COOKIE)
    if not raw:
        raise exceptions.NotAuthenticated(NO_TOKEN)
    try:
        token = RefreshToken(raw)  # checks signature, expiry, type and the blacklist
    except TokenError as error:
        if _logged_out(raw):
            # The session ended (logout): the UI's own refresh timer races its logout, and a 403 would tell
            # the user who just logged out to "log in again". Answer as for no session at all.
            raise exceptions.NotAuthenticated(NO_TOKEN) from None
        raise _token_error(error, refresh=True) from None
    user_id = token.payload.get(jwt_settings.USER_ID_CLAIM)
    user = User.objects.non_polymorphic().filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None:
        raise exceptions.AuthenticationFailed("User not found")
    try:
        check_stamp(token, user)  # issued before a password change
    except exceptions.AuthenticationFailed:
        raise exceptions.AuthenticationFailed("Log in again. Invalid token.") from None
    return user, token


def _logged_out(raw: str) -> bool:
    """Whether `raw` is a genuine, unexpired refresh token that logout has blacklisted."""
    try:
        token = RefreshToken(raw, verify=False)
        token.get_token_backend().decode(raw, verify=True)  # signature and expiry
        jti = token[jwt_settings.JTI_CLAIM]
    except (TokenError, TokenBackendError, KeyError):
        return False
    return BlacklistedToken.objects.filter(token__jti=jti).exists()


def _set_cookie(response, name: str, value: str, token) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max(int(token["exp"] - token.current_time.timestamp()), 0),
        path=cookie_path(),
        httponly=True,
        samesite=settings.YAPTIDE_COMPAT_COOKIE_SAMESITE,
        secure=settings.YAPTIDE_COMPAT_COOKIE_SECURE,
    )


def set_token_cookies(response, *, access: AccessToken, refresh: RefreshToken | None = None) -> None:
    """Sets the access cookie, and the refresh cookie of a fresh login."""
    _set_cookie(response, ACCESS_COOKIE, str(access), access)
    if refresh is not None:
        _set_cookie(response, REFRESH_COOKIE, str(refresh), refresh)


def expiries(*, access: AccessToken, refresh: RefreshToken | None = None) -> dict:
    """`access_exp` (and `refresh_exp`) in epoch milliseconds, as the UI's refresh timer reads them."""
    content = {"access_exp": epoch_ms(access["exp"])}
    if refresh is not None:
        content["refresh_exp"] = epoch_ms(refresh["exp"])
    return content


def clear_cookies(response) -> None:
    """Deletes both cookies (and blacklisting is the caller's choice)."""
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.delete_cookie(name, path=cookie_path(), samesite=settings.YAPTIDE_COMPAT_COOKIE_SAMESITE)


def refresh_blacklist(request) -> None:
    """Makes the request's refresh cookie unusable (logout); a missing or bad one is ignored."""
    raw = request.COOKIES.get(REFRESH_COOKIE)
    if not raw:
        return
    require_allowed_origin(request)  # CSRF: another site may not log the user out
    try:
        RefreshToken(raw).blacklist()
    except TokenError:
        pass  # already unusable
