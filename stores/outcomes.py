"""What a transfer of one file ends in: a stored copy, or a failure saying if retrying helps.

Transfers return these rather than raise, so a batch of thousands of files reports every
file's fate in order, and callers turn them into events without catching anything.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Stored:
    """A verified copy of a file's content: the object at ``key`` (or the restored file)."""

    key: str
    size: int
    adler32: str  # 8 lowercase hex digits; "" for a restored file (its sha256 is checked)
    sha256: str  # 64 lowercase hex digits
    etag: str  # the object's ETag, quotes removed
    reused: bool = False  # an earlier upload's object was found and kept: nothing was sent


@dataclass(frozen=True)
class Failure:
    """Why a transfer failed; ``retryable`` if trying again later may well succeed.

    Failures caused by the file (gone, changed, unreadable) or by a corrupt stored copy
    are not retryable; the object store being unreachable or refusing service is.
    """

    reason: str
    retryable: bool


class Tally(Protocol):
    """Where a transfer counts what it handled, for its progress reports (D132): each
    file once it is ``done`` (stored or failed), and the bytes of a large one as they
    ``moved``. Called from the transfer's threads."""

    def moved(self, item: Hashable, size: int) -> None: ...

    def done(self, item: Hashable, size: int) -> None: ...


class NoTally:
    """Counts nothing: for transfers whose progress nobody follows."""

    def moved(self, item: Hashable, size: int) -> None:
        pass

    def done(self, item: Hashable, size: int) -> None:
        pass


NO_TALLY = NoTally()
