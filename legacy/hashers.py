"""Werkzeug password hashes (yaptide's local accounts) as Django password hashes.

Both werkzeug formats are plain hashlib with the salt used as text, so they convert without the
password: `pbkdf2:sha256:<iterations>$<salt>$<hex>` becomes Django's `pbkdf2_sha256$...` and
`scrypt:<N>:<r>:<p>$<salt>$<hex>` becomes Django's `scrypt$...`. Django re-hashes both with the
preferred hasher at the user's next login.
"""

import base64
import hashlib
import re

from django.contrib.auth.hashers import ScryptPasswordHasher

_PBKDF2 = re.compile(
    r"^pbkdf2:(?P<digest>sha256|sha1):(?P<iterations>\d+)\$(?P<salt>[^$]+)\$(?P<hex>(?:[0-9a-f]{2})+)$"
)
_SCRYPT = re.compile(r"^scrypt:(?P<n>\d+):(?P<r>\d+):(?P<p>\d+)\$(?P<salt>[^$]+)\$(?P<hex>[0-9a-f]{128})$")
_DIGEST_BYTES = {"sha256": 32, "sha1": 20}
_DJANGO_PBKDF2 = {"sha256": "pbkdf2_sha256", "sha1": "pbkdf2_sha1"}


class LegacyScryptPasswordHasher(ScryptPasswordHasher):
    """Django's scrypt hasher with the memory limit werkzeug used (132 * N * r * p bytes).

    Django's default limit (OpenSSL's 32 MiB) is below what werkzeug's N = 32768, r = 8 needs, so
    Django's own hasher raises "memory limit exceeded" on imported hashes. Same algorithm name and format.
    """

    def encode(self, password, salt, n=None, r=None, p=None):
        n = n or self.work_factor
        r = r or self.block_size
        p = p or self.parallelism
        self._check_encode_args(password, salt)
        digest = hashlib.scrypt(
            password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=max(self.maxmem, 132 * n * r * p), dklen=64
        )
        return f"{self.algorithm}${n}${salt}${r}${p}${base64.b64encode(digest).decode('ascii').strip()}"


def django_password_from_werkzeug(password_hash: str) -> str | None:
    """The Django encoding of a werkzeug pbkdf2 or scrypt hash; None for anything else (empty, unknown format)."""
    password_hash = password_hash or ""
    if match := _PBKDF2.match(password_hash):
        raw = bytes.fromhex(match["hex"])
        if len(raw) != _DIGEST_BYTES[match["digest"]]:
            return None
        digest = base64.b64encode(raw).decode("ascii").strip()
        return f"{_DJANGO_PBKDF2[match['digest']]}${int(match['iterations'])}${match['salt']}${digest}"
    if match := _SCRYPT.match(password_hash):
        digest = base64.b64encode(bytes.fromhex(match["hex"])).decode("ascii").strip()
        return f"scrypt${int(match['n'])}${match['salt']}${int(match['r'])}${int(match['p'])}${digest}"
    return None
