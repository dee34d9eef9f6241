"""Bytes in use, as the projected catalog knows them: what quotas are measured in.

Cache bytes are the live files (not deleted, in a live holding) that are reserved or
have a copy in the object store; tape bytes those with a copy on tape.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, Engine, and_, exists, false, func, or_, select

from domain.states import OBJECT_STORAGE, TAPE
from projections import tables as t


def cache_bytes(conn: Connection, user: str | None = None, group: str | None = None) -> int:
    """Bytes of the user's (or the group's) files reserved or in the object store."""
    cached = or_(t.files.c.state == "RESERVED", _located(OBJECT_STORAGE))
    return _bytes(conn, cached, user, group)


def tape_bytes(conn: Connection, user: str | None = None, group: str | None = None) -> int:
    """Bytes of the user's (or the group's) files with a TAPE location."""
    return _bytes(conn, _located(TAPE), user, group)


def _located(storage_type: str) -> ColumnElement[bool]:
    loc = t.locations
    return exists().where((loc.c.file_id == t.files.c.id) & (loc.c.storage_type == storage_type))


def _bytes(
    conn: Connection, where: ColumnElement[bool], user: str | None, group: str | None
) -> int:
    f, h = t.files, t.holdings
    conditions = [where, f.c.state != "DELETED", h.c.deleted == false()]
    if user is not None:
        conditions.append(h.c.user == user)
    if group is not None:
        conditions.append(h.c.group == group)
    query = (
        select(func.coalesce(func.sum(f.c.size), 0))
        .select_from(f.join(h, h.c.id == f.c.holding_id))
        .where(and_(*conditions))
    )
    return int(conn.execute(query).scalar_one())


class ProjectionUsage:
    """The quota checks' view of the projection (``processors.catalog.quotas.Usage``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def group_cache_bytes(self, group: str) -> int:
        with self.engine.connect() as conn:
            return cache_bytes(conn, group=group)

    def user_tape_bytes(self, user: str) -> int:
        with self.engine.connect() as conn:
            return tape_bytes(conn, user=user)

    def group_tape_bytes(self, group: str) -> int:
        with self.engine.connect() as conn:
            return tape_bytes(conn, group=group)
