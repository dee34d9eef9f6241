"""Where a file's copy lives in the object store: one key per holding, transaction and path.

A key is ``h{holding_id}/{transaction_id}/`` followed by the percent-encoded path bytes:
``/`` and the unreserved ASCII characters (RFC 3986: letters, digits, ``-._~``) stay as
they are, every other byte (``%``, spaces, control characters, bytes >= 0x80 of any
encoding) becomes ``%XX``. Keys are therefore plain ASCII whatever the path's bytes, and
decoding is plain percent-decoding.

Some S3 servers (versitygw's posix back end among them) map keys onto a file system, so
a key never has an empty, ``.`` or ``..`` segment nor a trailing ``/``: the ``/`` or ``.``
that would make one is percent-encoded too, which decodes to the same path.

A key longer than S3's limit of 1024 bytes, or with a segment longer than a file name may
be (255 bytes), is replaced by ``h{holding_id}/{transaction_id}/sha256={hex}``, the
sha256 of the path. The encoder always escapes ``=``, so the two forms cannot collide;
``path_of_key`` returns ``None`` for such a key, as the catalog knows the path anyway.
"""

from __future__ import annotations

import hashlib
import re
from itertools import pairwise
from urllib.parse import unquote_to_bytes

MAX_KEY_BYTES = 1024  # S3's limit on a key's UTF-8 length
MAX_SEGMENT_BYTES = 255  # NAME_MAX of the file systems behind posix S3 servers

_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
# Each byte's rendering in a segment, built once: this runs for every file of a holding.
_ESCAPED = tuple(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in range(256))
_SLASH = "%2F"

_TRANSACTION_ID = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]*")
_KEY = re.compile(r"h(0|[1-9][0-9]*)/([A-Za-z0-9._~-]+)/(.+)", re.DOTALL)
_ENCODED_PATH = re.compile(r"(?:[A-Za-z0-9._~/-]|%[0-9A-F]{2})+")
_HASHED_PATH = re.compile(r"sha256=[0-9a-f]{64}")


def key_prefix(holding_id: int, transaction_id: str) -> str:
    """The prefix shared by every key of one transaction, ending in ``/``."""
    if holding_id < 0:
        raise ValueError(f"a holding id is not negative: {holding_id}")
    if not _TRANSACTION_ID.fullmatch(transaction_id):
        raise ValueError(f"a transaction id is unreserved ASCII: {transaction_id!r}")
    return f"h{holding_id}/{transaction_id}/"


def object_key(holding_id: int, transaction_id: str, path: bytes) -> str:
    """The object key of the file at ``path`` (raw bytes) in a holding's transaction."""
    if not path:
        raise ValueError("a file path is not empty")
    prefix = key_prefix(holding_id, transaction_id)
    key = prefix + _encode(path)
    if len(key) > MAX_KEY_BYTES or any(
        len(segment) > MAX_SEGMENT_BYTES for segment in key.split("/")
    ):
        return prefix + "sha256=" + hashlib.sha256(path).hexdigest()
    return key


def is_object_key(key: str) -> bool:
    """Whether ``key`` has the shape of the keys nearline writes: under a holding's and a
    transaction's prefix (a file's, a long path's or a pack's)."""
    return _KEY.fullmatch(key) is not None


def path_of_key(key: str) -> bytes | None:
    """The path an ``object_key`` encodes; ``None`` for the hashed form of a long path.

    Raises ``ValueError`` for a string that is not an object key.
    """
    match = _KEY.fullmatch(key)
    if match is None:
        raise ValueError(f"not an object key: {key!r}")
    encoded = match.group(3)
    if _HASHED_PATH.fullmatch(encoded):
        return None
    if not _ENCODED_PATH.fullmatch(encoded):
        raise ValueError(f"not an object key: {key!r}")
    return unquote_to_bytes(encoded)


def _encode(path: bytes) -> str:
    segments = [_encode_segment(segment) for segment in path.split(b"/")]
    parts = [segments[0]]
    for previous, segment in pairwise(segments):
        # A literal "/" only between two non-empty segments: no empty key segments.
        parts.append("/" if previous and segment else _SLASH)
        parts.append(segment)
    return "".join(parts)


def _encode_segment(segment: bytes) -> str:
    if segment in (b".", b".."):
        return "%2E" * len(segment)  # a file-system path component of its own
    return "".join([_ESCAPED[b] for b in segment])
