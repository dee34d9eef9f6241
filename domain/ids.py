"""Ids derived from what they name, so every part of the system derives the same one."""

from __future__ import annotations

import hashlib


def file_id(holding_id: int, transaction_id: str, path: bytes) -> int:
    """A stable 63-bit id for one version of a file in a holding."""
    digest = hashlib.blake2b(
        b"%d\0%s\0" % (holding_id, transaction_id.encode()) + path, digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") >> 1
