"""The sweeper's port onto the catalog projection, built from the read side: the only
module of the sweeper that imports ``projections`` (decision D140). The operator
commands and the demo run their passes through it too."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Engine

from domain.eviction import CachedCopy
from nearline.settings import Settings
from processors.archive_put.sweep import Unarchived
from projections.db import catalog_engine
from projections.queries import archiving, eviction


def catalog_reads(settings: Settings) -> ProjectionReads:
    """The sweeper's reads, on the catalog database of ``settings``."""
    return ProjectionReads(catalog_engine(settings))


class ProjectionReads:
    """``CatalogReads`` on the catalog database behind ``engine``, one connection a read."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def unarchived(
        self, limit: int, holding_ids: Collection[int] | None = None
    ) -> list[Unarchived]:
        with self.engine.connect() as conn:
            found = archiving.unarchived(conn, limit, holding_ids)
        return [Unarchived(f.holding_id, f.user, f.group, f.member) for f in found]

    def cache_usage(self) -> int:
        with self.engine.connect() as conn:
            return eviction.cache_usage(conn)

    def eviction_candidates(self) -> list[CachedCopy]:
        with self.engine.connect() as conn:
            return eviction.candidates(conn)
