"""Update keys: 256 random bits shown once; only their SHA-256 is stored and checked in constant time."""

import hashlib
import hmac
import secrets

from ..models import Simulation


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def update_key_new() -> tuple[str, str]:
    """A new 256-bit update key and the SHA-256 that is stored in its place."""
    key = secrets.token_urlsafe(32)
    return key, _key_hash(key)


def update_key_issue(*, simulation: Simulation) -> str:
    """Makes a new update key, stores only its SHA-256 (revoking the old key) and returns it once."""
    key, key_hash = update_key_new()
    Simulation.objects.filter(pk=simulation.pk).update(update_key_hash=key_hash)
    simulation.update_key_hash = key_hash
    return key


def update_key_matches(*, simulation: Simulation, key: str) -> bool:
    """Constant-time check of a worker's key against the stored hash."""
    return bool(simulation.update_key_hash) and hmac.compare_digest(simulation.update_key_hash, _key_hash(key or ""))
