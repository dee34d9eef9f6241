"""The cart processor's port onto the projections, built from the read side: the only
module of the cart processor that imports ``projections`` (decision D140)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import Engine

from events.carts import CartOfFilesRequested, CartRequested
from nearline.settings import Settings
from processors.carts.ports import CartFile, StageOutcome
from projections.queries import carts, named_carts
from projections.queries.reader import catalog_reader
from stores.s3.object_store import ObjectStore
from stores.tape.aggregate import Member
from stores.tape.cache_reading import fetch_in_order


def catalog_reads(settings: Settings) -> ProjectionReads:
    """The cart processor's reads, on a read-only engine for the catalog of ``settings``."""
    return ProjectionReads(catalog_reader(settings))


class ProjectionReads:
    """``CatalogReads`` on the catalog database behind ``engine``, one connection a read."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def cart_files(self, request: CartRequested) -> Sequence[CartFile]:
        with self.engine.connect() as conn:
            return carts.cart_files(conn, request)

    def named_cart_files(self, request: CartOfFilesRequested) -> dict[bytes, CartFile]:
        with self.engine.connect() as conn:
            return dict(named_carts.named_cart_files(conn, request))

    def finished_carts(self, user: str, but: str) -> list[str]:
        with self.engine.connect() as conn:
            return carts.finished_carts(conn, user, but)

    def finished_stages(self, transaction_ids: Sequence[str], user: str) -> dict[str, StageOutcome]:
        with self.engine.connect() as conn:
            done = carts.finished(conn, transaction_ids, user)
        return {i: StageOutcome(f.state, f.failures) for i, f in done.items()}


class CachedContents:
    """``CacheContents`` on the S3 cache of ``settings``: objects and pack slices read as
    archive-put reads them (``stores.tape.cache_reading``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def contents(self, files: Sequence[Member]) -> Iterator[Iterable[bytes | memoryview] | str]:
        store = ObjectStore(self.settings, direct=False)
        try:
            objects = fetch_in_order(store, files)
            try:
                for _file in files:
                    fetched = next(objects)
                    try:
                        yield fetched.failure if fetched.failure is not None else fetched.pieces()
                    finally:
                        fetched.close()
            finally:
                objects.close()
        finally:
            store.close()
