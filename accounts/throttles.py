"""Sign-in throttles, counted in the cache shared by server processes (per process while that cache is down).

The client address is REMOTE_ADDR unless that is one of settings.TRUSTED_PROXIES; only then does
X-Forwarded-For count, read from the right up to the first address that is not a trusted proxy.
"""

import hashlib
import ipaddress
import logging
import time
from functools import cache

from django.conf import settings
from django.core.cache import cache as shared_cache
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.throttling import SimpleRateThrottle

log = logging.getLogger(__name__)

_local_cache = LocMemCache("accounts-throttles", {})


class ResilientCache:
    """The shared cache, or this process's own memory while the shared one fails (Redis down): sign-in degrades."""

    def get(self, key, default=None):
        try:
            return shared_cache.get(key, default)
        except Exception as error:
            log.warning("throttle cache unavailable, counting in this process: %s", error)
            return _local_cache.get(key, default)

    def set(self, key, value, timeout=None):
        try:
            shared_cache.set(key, value, timeout)
        except Exception as error:
            log.warning("throttle cache unavailable, counting in this process: %s", error)
        # Always kept locally too, so a cache that fails between get and set still counts.
        _local_cache.set(key, value, timeout)


@cache
def _trusted_networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in _trusted_networks(tuple(settings.TRUSTED_PROXIES)))


def client_address(request) -> str:
    """The address of the client: X-Forwarded-For is believed only when the direct peer is a trusted proxy."""
    remote = request.META.get("REMOTE_ADDR", "")
    if not _trusted(remote):
        return remote
    forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(forwarded):
        if not _trusted(hop):
            return hop
    return forwarded[0] if forwarded else remote


class AddressThrottle(SimpleRateThrottle):
    """Limits requests of one scope from one client address."""

    cache = ResilientCache()

    def get_ident(self, request):
        return client_address(request)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginAddressThrottle(AddressThrottle):
    """Every login attempt from one client address."""

    scope = "login_ip"


class RegisterThrottle(AddressThrottle):
    scope = "register"


class RefreshThrottle(AddressThrottle):
    scope = "refresh"


class KeycloakLoginThrottle(AddressThrottle):
    scope = "keycloak_login"


class LoginFailureThrottle(SimpleRateThrottle):
    """Wrong passwords for one username from one client address; only failures count (see record_failure).

    Keyed by address as well as name, so wrong guesses by anyone else never lock the real user out.
    """

    scope = "login_user"
    cache = ResilientCache()

    def get_cache_key(self, request, view):
        data = request.data if isinstance(request.data, dict) else {}
        username = data.get("username")
        if not isinstance(username, str) or not username:
            return None
        ident = hashlib.sha256(f"{username.strip().casefold()}\0{client_address(request)}".encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.history = self.cache.get(self.key, [])
        self.now = time.time()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        return len(self.history) < self.num_requests or self.throttle_failure()

    def record_failure(self, request, view) -> None:
        if self.rate is None or self.get_cache_key(request, view) is None:
            return
        self.allow_request(request, view)  # refreshes key and history
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)
