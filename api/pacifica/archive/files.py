"""The archive interface's reads of the catalog: a namespace's file by id (D145), and the
id of the namespace's holding once it exists."""

from __future__ import annotations

from sqlalchemy import Connection, select

from domain.access import Scope
from domain.pacifica import file_path
from domain.states import OBJECT_STORAGE, TAPE
from projections import tables as t
from projections.queries import database_errors
from projections.queries.files import FoundFile, Location, find_files
from projections.queries.filters import HoldingSelector


def file_by_id(conn: Connection, account: str, label: str, file_id: str) -> FoundFile | None:
    """The cataloged file kept for ``file_id`` in the account's holding ``label``."""
    conn.rollback()  # a fresh look: the previous one may have been a moment ago
    found = find_files(
        conn, Scope(account), HoldingSelector(label=label), file_path(file_id).encode(), limit=1
    )
    return found[0] if found else None


def holding_id_of(conn: Connection, account: str, label: str) -> int | None:
    """The id of the account's holding ``label``, if it was made already."""
    h = t.holdings
    query = select(h.c.id).where((h.c.user == account) & (h.c.label == label) & ~h.c.deleted)
    with database_errors():
        return conn.execute(query).scalar()


def cached_copy(found: FoundFile) -> Location | None:
    return next((loc for loc in found.locations if loc.storage_type == OBJECT_STORAGE), None)


def on_tape(found: FoundFile) -> bool:
    return any(loc.storage_type == TAPE for loc in found.locations)
