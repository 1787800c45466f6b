"""Werkzeug hashes of yaptide's local accounts verify in Django without the password, and are re-hashed at login."""

import hashlib

import pytest
from django.contrib.auth.hashers import ScryptPasswordHasher, check_password, identify_hasher
from werkzeug.security import generate_password_hash

from legacy.hashers import django_password_from_werkzeug


@pytest.mark.parametrize("method", ["scrypt", "scrypt:32768:8:1", "pbkdf2:sha256:600000", "pbkdf2:sha256:260000"])
def test_werkzeug_hashes_verify_after_conversion(method):
    werkzeug_hash = generate_password_hash("Zażółć gęślą 🚀", method=method)

    encoded = django_password_from_werkzeug(werkzeug_hash)

    assert check_password("Zażółć gęślą 🚀", encoded)
    assert not check_password("Zażółć gęślą", encoded)


def test_conversion_formats_are_djangos():
    scrypt = django_password_from_werkzeug(generate_password_hash("pw", method="scrypt"))
    pbkdf2 = django_password_from_werkzeug(generate_password_hash("pw", method="pbkdf2:sha256:260000"))

    assert scrypt.startswith("scrypt$32768$") and scrypt.split("$")[3:5] == ["8", "1"]
    assert pbkdf2.startswith("pbkdf2_sha256$260000$")
    assert identify_hasher(pbkdf2).algorithm == "pbkdf2_sha256"


def test_djangos_own_scrypt_hasher_cannot_check_werkzeug_parameters():
    """Why the legacy hasher exists: N = 32768, r = 8 needs more than OpenSSL's default 32 MiB."""
    encoded = django_password_from_werkzeug(generate_password_hash("pw", method="scrypt"))
    with pytest.raises(ValueError, match="memory limit exceeded"):
        ScryptPasswordHasher().verify("pw", encoded)


def test_a_legacy_hash_is_upgraded_to_the_preferred_hasher_at_login(db):
    from accounts.models import YaptideUser

    user = YaptideUser(username="old")
    user.password = django_password_from_werkzeug(generate_password_hash("pw", method="scrypt"))
    user.save()

    assert user.check_password("pw")
    user.refresh_from_db()
    assert identify_hasher(user.password).algorithm == "md5"  # the test settings' preferred hasher


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain-text",
        "sha256$salt$" + hashlib.sha256(b"x").hexdigest(),
        "pbkdf2:sha256:1000$salt$abc",
        "scrypt:1:1:1$s$00",
    ],
)
def test_anything_else_converts_to_nothing(stored):
    assert django_password_from_werkzeug(stored) is None
