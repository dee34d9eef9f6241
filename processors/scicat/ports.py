"""What the SciCat adapter reads from the projections, only through this port, which its
wiring (``processors.scicat.wiring``) builds and passes in (decision D140)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class Copy(Protocol):
    @property
    def storage_type(self) -> str: ...
    @property
    def root(self) -> str: ...


class HeldFile(Protocol):
    """A cataloged regular file of a dataset's holding, with its checksums and copies."""

    @property
    def holding_id(self) -> int: ...
    @property
    def path(self) -> bytes: ...
    @property
    def size(self) -> int: ...
    @property
    def mode(self) -> int: ...
    @property
    def uid(self) -> int: ...
    @property
    def gid(self) -> int: ...
    @property
    def mtime_ns(self) -> int: ...
    @property
    def checksums(self) -> dict[str, str]: ...
    @property
    def locations(self) -> Sequence[Copy]: ...


@dataclass(frozen=True)
class Outcome:
    """A finished nearline request: its final state and its failed files."""

    state: str
    failures: dict[bytes, str]


class CatalogReads(Protocol):
    def holding_files(self, user: str, label: str) -> Sequence[HeldFile]:
        """The regular files of ``user``'s holding labelled ``label`` (none if no such)."""
        ...

    def finished(self, transaction_ids: Sequence[str], user: str) -> dict[str, Outcome]:
        """The user's requests among these that have finished."""
        ...

    def archive(self, holding_id: int) -> int:
        """Ask for the holding's cached files without a tape copy to be archived now;
        the number of aggregates asked for."""
        ...
