"""Sign-in: local register/login/refresh/logout, who am I, and Keycloak login; tokens in body and cookies."""

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from yaptide_site.api import error_responses

from . import keycloak
from .authentication import (
    ACCESS_COOKIE,
    REFRESH_COOKIE,
    check_stamp,
    refresh_token_for,
    require_allowed_origin,
    sign_in_tokens,
)
from .models import User
from .serializers import (
    CredentialsSerializer,
    LoginResponseSerializer,
    RefreshSerializer,
    RegistrationSerializer,
    TokensSerializer,
    UserSerializer,
)
from .services import keycloak_sign_in, user_create_local
from .throttles import (
    KeycloakLoginThrottle,
    LoginAddressThrottle,
    LoginFailureThrottle,
    RefreshThrottle,
    RegisterThrottle,
)

REFRESH_COOKIE_PATH = "/api/auth/"


def _set_token_cookies(response: Response, refresh: RefreshToken) -> Response:
    access = str(refresh.access_token)
    response.data = {**(response.data or {}), "access": access, "refresh": str(refresh)}
    common = {"httponly": True, "samesite": "Lax", "secure": settings.SESSION_COOKIE_SECURE}
    response.set_cookie(
        ACCESS_COOKIE, access, max_age=int(settings.ACCESS_TOKEN_LIFETIME.total_seconds()), path="/", **common
    )
    response.set_cookie(
        REFRESH_COOKIE,
        str(refresh),
        max_age=int(settings.REFRESH_TOKEN_LIFETIME.total_seconds()),
        path=REFRESH_COOKIE_PATH,
        **common,
    )
    return response


def _logged_in(user: User, status_code: int = status.HTTP_200_OK) -> Response:
    response = Response({"user": UserSerializer(user).data}, status=status_code)
    return _set_token_cookies(response, sign_in_tokens(user))


class PublicView(APIView):
    """An endpoint that takes no user authentication; refused credentials still answer 401."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'


class RegisterView(PublicView):
    throttle_classes = [RegisterThrottle]

    @extend_schema(
        summary="Register a local user",
        request=RegistrationSerializer,
        responses={201: UserSerializer, **error_responses(400, 403, 409, 415, 429)},
    )
    def post(self, request):
        if not settings.ALLOW_REGISTRATION:
            raise exceptions.PermissionDenied("registration is switched off")
        serializer = RegistrationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_create_local(**serializer.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class LoginView(PublicView):
    throttle_classes = [LoginAddressThrottle, LoginFailureThrottle]

    @extend_schema(
        summary="Log in a local user",
        description="Returns access and refresh tokens and sets them as HttpOnly cookies.",
        request=CredentialsSerializer,
        responses={200: LoginResponseSerializer, **error_responses(400, 401, 415, 429)},
    )
    def post(self, request):
        serializer = CredentialsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(request, **serializer.validated_data)
        if user is None:
            LoginFailureThrottle().record_failure(request, self)
            raise exceptions.AuthenticationFailed("invalid username or password")
        return _logged_in(user)


def _refresh_from(request) -> str | None:
    """The refresh token of the body, else of the cookie (only from this site or a trusted one: CSRF)."""
    serializer = RefreshSerializer(data=request.data)  # a list or a bare value is a 400, not "no token"
    serializer.is_valid(raise_exception=True)
    if serializer.validated_data.get("refresh"):
        return serializer.validated_data["refresh"]
    cookie = request.COOKIES.get(REFRESH_COOKIE)
    if cookie:
        require_allowed_origin(request)
    return cookie


class RefreshView(PublicView):
    throttle_classes = [RefreshThrottle]

    @extend_schema(
        summary="Refresh the tokens",
        description="Takes the refresh token from the body or the `refresh_token` cookie; the old one stops working.",
        request=RefreshSerializer,
        responses={200: TokensSerializer, **error_responses(400, 401, 403, 415, 429)},
    )
    def post(self, request):
        raw = _refresh_from(request)
        if not raw:
            raise exceptions.NotAuthenticated("no refresh token given")
        try:
            old = RefreshToken(raw)
        except TokenError as error:
            raise exceptions.AuthenticationFailed(str(error)) from None
        user_id = old.payload.get(jwt_settings.USER_ID_CLAIM)
        user = User.objects.non_polymorphic().filter(pk=user_id, is_active=True).first() if user_id else None
        if user is None:
            raise exceptions.AuthenticationFailed("no active account found for the given token")
        check_stamp(old, user)
        old.blacklist()
        return _set_token_cookies(Response({}), refresh_token_for(user))


class LogoutView(PublicView):
    @extend_schema(
        summary="Log out",
        description="Makes the refresh token (body or cookie) unusable and clears both cookies.",
        request=RefreshSerializer,
        responses={204: OpenApiResponse(description="Logged out."), **error_responses(400, 403, 415)},
    )
    def post(self, request):
        raw = _refresh_from(request)
        if raw:
            try:
                RefreshToken(raw).blacklist()
            except TokenError:
                pass  # already unusable
        response = Response(status=status.HTTP_204_NO_CONTENT)
        response.delete_cookie(ACCESS_COOKIE, path="/", samesite="Lax")
        response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, samesite="Lax")
        return response


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="Who am I", responses={200: UserSerializer, **error_responses(401)})
    def get(self, request):
        return Response(UserSerializer(request.user).data)


class KeycloakLoginView(PublicView):
    throttle_classes = [KeycloakLoginThrottle]

    @extend_schema(
        summary="Log in with a Keycloak access token",
        description=(
            "Send the Keycloak (PLGrid) access token as `Authorization: Bearer <token>`. It is verified against "
            "the realm's keys, issuer, audience and expiry, and must grant PLG_YAPTIDE_ACCESS. Returns our own "
            "tokens and cookies."
        ),
        request=None,
        responses={200: LoginResponseSerializer, **error_responses(401, 403, 409, 429, 503)},
    )
    def post(self, request):
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise exceptions.NotAuthenticated("send the Keycloak access token as Authorization: Bearer <token>")
        try:
            user = keycloak_sign_in(token=token.strip())
        except keycloak.KeycloakError as error:
            return Response({"message": str(error)}, status=error.status)
        return _logged_in(user)
