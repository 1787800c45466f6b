"""Verification of Keycloak (PLGrid) access tokens against the realm's published keys."""

import json
import logging
import threading
import time
import urllib.error
import urllib.request

import jwt
from django.conf import settings

logger = logging.getLogger(__name__)

ACCESS_CLAIM = "plgridAccessServices"
ACCESS_SERVICE = "PLG_YAPTIDE_ACCESS"


class KeycloakError(Exception):
    """A Keycloak token we do not accept; `status` is the HTTP status to answer with."""

    status = 401


class KeycloakAccessDenied(KeycloakError):
    status = 403


class KeycloakUnavailable(KeycloakError):
    status = 503


class GuardedJWKClient(jwt.PyJWKClient):
    """A JWKS client with a short timeout and a circuit breaker: after a failed fetch, logins fail fast for a while.

    A Keycloak outage then costs one web worker one timeout per KEYCLOAK_JWKS_RETRY_SECONDS, not one per login.
    """

    def __init__(self, url: str, *, retry_seconds: float, **kwargs):
        super().__init__(url, **kwargs)
        self.retry_seconds = retry_seconds
        self.open_until = 0.0
        self._breaker_lock = threading.Lock()

    def fetch_data(self):
        with self._breaker_lock:
            if time.monotonic() < self.open_until:
                raise jwt.PyJWKClientConnectionError("Keycloak keys failed recently; not retried yet")
        try:
            return super().fetch_data()
        except jwt.PyJWKClientConnectionError:
            with self._breaker_lock:
                self.open_until = time.monotonic() + self.retry_seconds
            raise


_clients: dict[str, GuardedJWKClient] = {}
_clients_lock = threading.Lock()


def _jwks_client() -> GuardedJWKClient:
    """One cached JWKS client per configured URL; keys are refetched after KEYCLOAK_JWKS_CACHE_SECONDS."""
    url = settings.KEYCLOAK_JWKS_URL
    if not url or not settings.KEYCLOAK_ISSUER:
        raise KeycloakUnavailable("Keycloak login is not configured")
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = GuardedJWKClient(
                url,
                cache_jwk_set=True,
                lifespan=max(settings.KEYCLOAK_JWKS_CACHE_SECONDS, 1),
                timeout=settings.KEYCLOAK_JWKS_TIMEOUT_SECONDS,
                retry_seconds=settings.KEYCLOAK_JWKS_RETRY_SECONDS,
            )
    return client


def keycloak_claims(token: str) -> dict:
    """The verified claims of a Keycloak access token with yaptide access; raises KeycloakError otherwise.

    RS256 only; iss, aud (our configured audience), exp and preferred_username are required.
    """
    client = _jwks_client()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise KeycloakError(f"invalid Keycloak token: {error}") from None
    # Refuse other algorithms and key-less tokens before any key is fetched.
    if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
        raise KeycloakError("invalid Keycloak token: an RS256 token with a key id is required")
    try:
        signing_key = client.get_signing_key(header["kid"])
    except jwt.PyJWKClientConnectionError:
        raise KeycloakUnavailable("Keycloak keys cannot be fetched") from None
    except jwt.PyJWTError as error:
        raise KeycloakError(f"invalid Keycloak token: {error}") from None
    try:
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=["RS256"],
            audience=settings.KEYCLOAK_AUDIENCE,
            issuer=settings.KEYCLOAK_ISSUER,
            options={"require": ["exp", "iss", "aud", "preferred_username"]},
        )
    except jwt.PyJWTError as error:
        raise KeycloakError(f"invalid Keycloak token: {error}") from None
    username = claims.get("preferred_username")
    if not isinstance(username, str) or not username.strip():
        raise KeycloakError("invalid Keycloak token: preferred_username is empty")
    services = claims.get(ACCESS_CLAIM)
    if not isinstance(services, list) or ACCESS_SERVICE not in services:
        raise KeycloakAccessDenied(f"the token does not grant {ACCESS_SERVICE}")
    return claims


def fetch_ssh_credentials(token: str) -> tuple[str, str] | None:
    """The user's SSH certificate and private key from CERT_AUTH_URL (GET with the same bearer token, answering
    {"cert": ..., "private": ...}), or None when it is not configured or fails (logged: old credentials stay)."""
    url = settings.CERT_AUTH_URL
    if not url:
        return None
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=settings.CERT_AUTH_TIMEOUT_SECONDS) as response:
            body = json.loads(response.read(1_000_000))
    except urllib.error.HTTPError as error:
        logger.warning("certificate service answered HTTP %s: keeping the stored SSH credentials", error.code)
        return None
    except (OSError, ValueError) as error:
        logger.warning("certificate service failed (%s): keeping the stored SSH credentials", error)
        return None
    cert, private = (body.get("cert"), body.get("private")) if isinstance(body, dict) else (None, None)
    if not isinstance(cert, str) or not isinstance(private, str) or not cert.strip() or not private.strip():
        logger.warning("certificate service answered no cert and private key: keeping the stored SSH credentials")
        return None
    return cert.strip() + "\n", private.strip() + "\n"
