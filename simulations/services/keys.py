"""Update keys: 256 random bits shown once; only their SHA-256 is stored and checked in constant time."""

import hashlib
import hmac
import secrets

from ..models import Simulation


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def update_key_issue(*, simulation: Simulation) -> str:
    """Makes a new 256-bit update key, stores only its SHA-256 (revoking the old key) and returns it once."""
    key = secrets.token_urlsafe(32)
    Simulation.objects.filter(pk=simulation.pk).update(update_key_hash=_key_hash(key))
    simulation.update_key_hash = _key_hash(key)
    return key


def update_key_matches(*, simulation: Simulation, key: str) -> bool:
    """Constant-time check of a worker's key against the stored hash."""
    return bool(simulation.update_key_hash) and hmac.compare_digest(simulation.update_key_hash, _key_hash(key or ""))
