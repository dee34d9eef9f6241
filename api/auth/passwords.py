"""Password hashes with salted scrypt (hashlib), in one self-describing string."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os

_N, _R, _P, _LENGTH = 2**14, 8, 1, 32
_SCHEME = "scrypt"


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64) of a password with a fresh random salt."""
    salt = os.urandom(16)
    digest = _scrypt(password, salt, _N, _R, _P)
    return "$".join(
        [_SCHEME, str(_N), str(_R), str(_P), _b64(salt), _b64(digest)],
    )


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash from ``hash_password``; False for bad hashes."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """A hash to check against when a user does not exist, so that the answer takes as
    long as for a real user and its timing does not reveal who has an account."""
    return hash_password("nearline: compare something when the user is unknown")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_LENGTH, maxmem=64 * 1024**2
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
