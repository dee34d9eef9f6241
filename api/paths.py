"""How POSIX paths, which are bytes and need not be UTF-8, travel as JSON text.

A path is shown as its UTF-8 text with every byte that is not part of valid UTF-8
written as ``\\xNN`` (Python's ``backslashreplace``). That text is what users read and
what regular expressions match (the catalog database computes the same text). It is
lossless only when the path is valid UTF-8, so nearline's API adds ``path_b64`` (the
bytes in standard base64) to every path that is not; clients that need the exact bytes
use it. Paths sent *to* the API may be text (encoded with ``os.fsencode``, so a Python
client's surrogate-escaped ``os.fsdecode`` strings come back as the original bytes) or
``path_b64``.
"""

from __future__ import annotations

import base64
import binascii
import os


def path_text(path: bytes) -> str:
    """The text of a path: UTF-8, with each byte that is not valid UTF-8 as ``\\xNN``."""
    return path.decode("utf-8", "backslashreplace")


def path_b64(path: bytes) -> str | None:
    """Base64 of the path's bytes when its text does not carry them exactly, else None."""
    try:
        path.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(path).decode("ascii")
    return None


def path_from_text(text: str) -> bytes:
    """The bytes of a path given as text (surrogate escapes become their bytes)."""
    return os.fsencode(text)


def path_from_b64(text: str) -> bytes:
    """The bytes of a path given in base64; ValueError if it is not base64."""
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError(f"{text!r} is not base64: {error}") from None
