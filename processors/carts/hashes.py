"""Checking a named cart's files against the hashes its client gave, as cartd checks each
file it pulls. A sha256 is compared with the one recorded at PUT (the tar stream checks
the bytes against that same sum as they are downloaded); any other algorithm is computed
over the cached content."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from domain.pacifica import id_of
from events.carts import CartEntry
from processors.carts.ports import CacheContents
from stores.tape.aggregate import Member
from stores.tape.cache_reading import CacheFailure

RECORDED = "sha256"


def hash_mismatch(cache: CacheContents, files: Sequence[tuple[CartEntry, Member]]) -> str | None:
    """Why the cart cannot be ready (the first file whose content is not what its client
    expects, or a cache that cannot be read), or None when every file is."""
    to_read = []
    for entry, member in files:
        if entry["hashtype"].lower() != RECORDED or not member.sha256:
            to_read.append((entry, member))
        elif entry["hashsum"].lower() != member.sha256:
            return _mismatch(entry, member)
    if not to_read:
        return None
    contents = cache.contents([m for _e, m in to_read])
    try:
        for (entry, member), content in zip(to_read, contents, strict=True):
            if isinstance(content, str):
                return f"File {_shown(member)} cannot be read from the cache: {content}."
            digest = hashlib.new(entry["hashtype"].lower())
            for piece in content:
                digest.update(piece)
            if digest.hexdigest() != entry["hashsum"].lower():
                return _mismatch(entry, member)
    except CacheFailure as error:
        return f"The cache cannot be read now ({error.reason}): ask for the cart again."
    finally:
        close = getattr(contents, "close", None)
        if close is not None:
            close()  # stops reading ahead when a mismatch ends the check early
    return None


def _mismatch(entry: CartEntry, member: Member) -> str:
    return (
        f"File {_shown(member)} does not match the {entry['hashtype']} hash given for it "
        f"({entry['hashsum'][:128]})."
    )


def _shown(member: Member) -> str:
    text = member.path.decode("utf-8", "backslashreplace")
    file_id = id_of(text)
    return f"id {file_id}" if file_id is not None else text
