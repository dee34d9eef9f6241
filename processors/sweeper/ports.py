"""What the archive sweep and the eviction pass read from the catalog projection, and
only through this port, which the wiring (``processors.sweeper.wiring``) builds and
passes in (decision D140)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from domain.eviction import CachedCopy
from processors.archive_put.sweep import Unarchived


class CatalogReads(Protocol):
    def unarchived(
        self, limit: int, holding_ids: Collection[int] | None = None
    ) -> list[Unarchived]:
        """Up to ``limit`` cached files without a tape copy and none in flight (of these
        holdings only, if given), in holding and path order."""
        ...

    def cache_usage(self) -> int:
        """Bytes of the files whose cache copy exists."""
        ...

    def eviction_candidates(self) -> list[CachedCopy]:
        """Cached files with a tape copy, least recently accessed first."""
        ...
