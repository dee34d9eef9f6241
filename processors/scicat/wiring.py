"""The SciCat adapter's port onto the projections, built from the read side: the only
module of the adapter that imports ``projections`` (decision D140)."""

from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import Producer
from sqlalchemy import Engine

from domain.access import Scope
from nearline import bus
from nearline.settings import Settings
from processors.scicat.ports import HeldFile, Outcome
from processors.sweeper.passes import archive_sweep
from processors.sweeper.wiring import ProjectionReads as SweeperReads
from projections.queries import carts
from projections.queries.files import find_files
from projections.queries.filters import HoldingSelector
from projections.queries.reader import catalog_reader

MAX_FILES = 1_000_000  # a dataset's files at most; SciCat's own limit is far lower


def catalog_reads(settings: Settings) -> ProjectionReads:
    engine = catalog_reader(settings)
    return ProjectionReads(settings, engine, bus.producer(settings))


class ProjectionReads:
    """``CatalogReads`` on the catalog database behind ``engine``."""

    def __init__(self, settings: Settings, engine: Engine, producer: Producer) -> None:
        self.settings = settings
        self.engine = engine
        self.producer = producer

    def holding_files(self, user: str, label: str) -> Sequence[HeldFile]:
        with self.engine.connect() as conn:
            return find_files(
                conn, Scope(user), HoldingSelector(label), limit=MAX_FILES, path_type="FILE"
            )

    def finished(self, transaction_ids: Sequence[str], user: str) -> dict[str, Outcome]:
        with self.engine.connect() as conn:
            done = carts.finished(conn, transaction_ids, user)
        return {i: Outcome(f.state, f.failures) for i, f in done.items()}

    def archive(self, holding_id: int) -> int:
        # The archive sweep's own planning, for this holding only (processors.sweeper).
        sweeper = SweeperReads(self.engine)
        return len(archive_sweep(self.settings, sweeper, self.producer, [holding_id]))
