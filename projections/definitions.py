"""The projections nearline runs, by name: which topics each reads, how it applies a
batch and which tables it owns. The live process and replay build them here, so the
same code fills the live tables or a replay's fresh ones."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table

from events.base import Event
from events.topics import CARTS, CATALOG, REQUESTS, STATUS
from projections import carts, catalog, status
from projections import tables as t
from projections.runner import Part, Projection

LIVE = "catalog"
"""The live runner's name: one runner applies every topic (D7), under this name."""

CATALOG_TABLES: tuple[Table, ...] = (
    t.holdings,
    t.tags,
    t.transactions,
    t.files,
    t.checksums,
    t.locations,
    t.aggregates,
    t.aggregate_members,
    t.archive_pending,
)
STATUS_TABLES: tuple[Table, ...] = (
    t.status_transactions,
    t.status_sub_records,
    t.status_failed_files,
)
CART_TABLES: tuple[Table, ...] = (t.carts, t.cart_files, t.cart_entries)


def projection(which: str, bucket: str) -> Projection:
    """``catalog``, ``status``, ``carts`` or ``all`` (what the live runner applies). Every one
    stores its positions under the live runner's name, so a replay's positions can
    replace the live ones."""

    def apply_catalog(conn: Connection, events: Sequence[Event]) -> None:
        catalog.apply(conn, events, bucket)

    parts = {
        "catalog": Part((CATALOG,), apply_catalog, catalog.KINDS),
        # A request shows queued from the requests topic while no decider takes it.
        "status": Part((CATALOG, STATUS, REQUESTS), status.apply),
        "carts": Part((CARTS,), carts.apply),
    }
    match which:
        case "catalog" | "status" | "carts":
            return Projection(LIVE, (parts[which],))
        case "all":
            return Projection(LIVE, tuple(parts.values()))
    raise ValueError(f"no projection {which!r}: choose catalog, status, carts or all")


def owned_tables(which: str) -> tuple[Table, ...]:
    """The tables a projection writes, parents before children."""
    return {
        "catalog": CATALOG_TABLES,
        "status": STATUS_TABLES,
        "carts": CART_TABLES,
        "all": CATALOG_TABLES + STATUS_TABLES + CART_TABLES,
    }[which]
