"""The old Flask API's routes as the yaptide UI calls them: parse the old parameters, call the native
selectors and services, answer in the old envelope. No rule lives here."""

from django.conf import settings
from django.contrib.auth import authenticate
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import keycloak
from accounts.models import User
from accounts.services import keycloak_user_upsert, user_create_local
from accounts.throttles import LoginAddressThrottle, LoginUsernameThrottle
from yaptide_site.errors import Conflict

from .api import CompatError, CompatView, PublicCompatView, json_body, missing_keys
from .auth import clear_cookies, expiries, refresh_blacklist, refresh_token_of, set_token_cookies
from .envelope import answer


class HelloView(PublicCompatView):
    """`GET /`: the UI's "is the server reachable" probe."""

    def get(self, request):
        return answer("Hello World!")


class LoginView(PublicCompatView):
    throttle_classes = [LoginAddressThrottle, LoginUsernameThrottle]

    def post(self, request):
        data = json_body(request)
        missing_keys(data, {"username", "password"})
        username, password = data["username"], data["password"]
        if not isinstance(username, str) or not isinstance(password, str):
            raise CompatError(400, "username and password must be strings")
        user = authenticate(request, username=username, password=password)
        if user is None:
            raise CompatError(401, "Invalid login or password")
        refresh = RefreshToken.for_user(user)
        access = refresh.access_token
        response = answer("Successfully logged in", 202, **expiries(access=access, refresh=refresh))
        set_token_cookies(response, access=access, refresh=refresh)
        return response


class RefreshView(PublicCompatView):
    """`GET /auth/refresh`: a new access token from the refresh cookie; the refresh token is not rotated."""

    def get(self, request):
        _user, refresh = refresh_token_of(request)
        access = refresh.access_token
        response = answer("User refreshed", **expiries(access=access))
        set_token_cookies(response, access=access)
        return response


class LogoutView(PublicCompatView):
    def delete(self, request):
        refresh_blacklist(request)
        response = answer("User logged out")
        clear_cookies(response)
        return response


class RegisterView(PublicCompatView):
    def put(self, request):
        if not settings.ALLOW_REGISTRATION:
            raise CompatError(403, "Registration is switched off")
        data = json_body(request)
        missing_keys(data, {"username", "password"})
        if not isinstance(data["username"], str) or not isinstance(data["password"], str):
            raise CompatError(400, "username and password must be strings")
        try:
            user_create_local(username=data["username"], password=data["password"])
        except Conflict:
            raise CompatError(403, "User existing") from None
        return answer("User created", 201)


class StatusView(CompatView):
    def get(self, request):
        return answer("User status", username=request.user.username)


class KeycloakView(PublicCompatView):
    """`POST /auth/keycloak`: a Keycloak access token (Bearer header) for our access cookie."""

    def post(self, request):
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise CompatError(401, "No token provided")
        try:
            claims = keycloak.keycloak_claims(token.strip())
        except keycloak.KeycloakAccessDenied as error:
            raise CompatError(403, str(error)) from None
        except keycloak.KeycloakError as error:
            raise CompatError(error.status if error.status != 401 else 403, str(error)) from None
        username = claims["preferred_username"].strip()
        if len(username) > User._meta.get_field("username").max_length:
            raise CompatError(403, "invalid Keycloak token: preferred_username is too long")
        try:
            user = keycloak_user_upsert(username=username)
        except Conflict as error:
            raise CompatError(403, error.message) from None
        access = AccessToken.for_user(user)
        response = answer("Successfully logged in", 202, **expiries(access=access))
        set_token_cookies(response, access=access)
        return response

    def delete(self, request):
        response = answer("User logged out")
        clear_cookies(response)
        return response


def not_found(request, *args, **kwargs):
    """Any address under the prefix that names no route: a JSON 404 (the UI parses every error body)."""
    return answer(f"The requested URL {request.path} was not found on this server", 404)
