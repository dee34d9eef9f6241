"""Where a packed file's bytes are (D90): a slice key names its pack, offset and size.

A pack's key is ``h{holding}/{transaction}/pack={sha256 of its bytes}``, and a slice's is
``{pack key}#{offset}+{size}``. Per-file keys (``object_keys``) escape ``=`` and ``#``, so
neither form can be taken for the other. Every reader of an object key resolves it here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PACK_MARK", "Slice", "pack_key", "pack_of", "slice_of"]

PACK_MARK = "pack="

_SLICE = re.compile(r"(.+/pack=[0-9a-f]{64})#(0|[1-9][0-9]*)\+([1-9][0-9]*)", re.DOTALL)


@dataclass(frozen=True)
class Slice:
    """``size`` bytes at ``offset`` of the pack object at ``pack``."""

    pack: str
    offset: int
    size: int

    @property
    def key(self) -> str:
        return f"{self.pack}#{self.offset}+{self.size}"

    @property
    def last(self) -> int:
        """The offset of its last byte, as an HTTP range names it."""
        return self.offset + self.size - 1


def slice_of(key: str) -> Slice | None:
    """The slice an object key names, or ``None`` for the key of a whole object."""
    if "#" not in key:
        return None
    match = _SLICE.fullmatch(key)
    if match is None:
        return None
    return Slice(match.group(1), int(match.group(2)), int(match.group(3)))


def pack_of(key: str | None) -> str | None:
    """The pack a file's object key is a slice of, if it is one."""
    found = slice_of(key) if key else None
    return found.pack if found else None


def pack_key(prefix: str, sha256: str) -> str:
    """The key of a pack of these bytes among the objects under ``prefix``."""
    return f"{prefix}{PACK_MARK}{sha256}"
