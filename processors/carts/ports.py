"""What the cart processor reads from the projections, and only through this port, which
its wiring (``processors.carts.wiring``) builds and passes in (decision D140)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from events.carts import CartOfFilesRequested, CartRequested
from stores.tape.aggregate import Member


class Copy(Protocol):
    @property
    def storage_type(self) -> str: ...
    @property
    def path(self) -> str: ...  # the object key, for a copy in the cache


class CartFile(Protocol):
    """A regular file a cart's selection found, with its copies."""

    @property
    def id(self) -> int: ...
    @property
    def holding_id(self) -> int: ...
    @property
    def group(self) -> str: ...  # the holding's
    @property
    def path(self) -> bytes: ...
    @property
    def size(self) -> int: ...
    @property
    def mode(self) -> int: ...
    @property
    def mtime_ns(self) -> int: ...
    @property
    def locations(self) -> Sequence[Copy]: ...
    @property
    def checksums(self) -> dict[str, str]: ...  # algorithm (SHA256, ADLER32) to hex


@dataclass(frozen=True)
class StageOutcome:
    state: str
    failures: dict[bytes, str]


class CatalogReads(Protocol):
    def cart_files(self, request: CartRequested) -> Sequence[CartFile]:
        """The regular files FIND shows for the cart's filters, at most ``max_files + 1``;
        ``InvalidQuery`` or ``QueryTooSlow`` if the filters cannot be answered."""
        ...

    def named_cart_files(self, request: CartOfFilesRequested) -> dict[bytes, CartFile]:
        """The regular files a client named, by path, that the requester may read in the
        owner's holding; a path that is not there is left out."""
        ...

    def finished_carts(self, user: str, but: str) -> list[str]:
        """The user's finished carts other than ``but``, most recently used first."""
        ...

    def finished_stages(self, transaction_ids: Sequence[str], user: str) -> dict[str, StageOutcome]:
        """The user's stages among these that have finished, with their failed files."""
        ...


class CacheContents(Protocol):
    def contents(self, files: Sequence[Member]) -> Iterator[Iterable[bytes | memoryview] | str]:
        """Each file's content from the S3 cache, in order, as pieces to read before the
        next file's; a ``str`` says why a file cannot be read. ``CacheFailure`` when the
        cache cannot be read at all."""
        ...
