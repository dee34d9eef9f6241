"""What the eviction policy reads from the catalog projection: the cache's use and the
cached files that have a tape copy. The sweeper reads them through the port its wiring
builds (``processors.sweeper.wiring``, decision D140)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, and_, func, select

from domain.eviction import CachedCopy
from projections import tables as t


def cache_usage(conn: Connection) -> int:
    """Bytes of the files whose cache copy exists."""
    f, loc = t.files, t.locations
    query = (
        select(func.coalesce(func.sum(f.c.size), 0))
        .select_from(f.join(loc, loc.c.file_id == f.c.id))
        .where(loc.c.storage_type == "OBJECT_STORAGE")
    )
    return int(conn.execute(query).scalar_one())


def candidates(conn: Connection) -> list[CachedCopy]:
    """Cached files with a tape copy, least recently accessed first."""
    f, h, cached = t.files, t.holdings, t.locations.alias("cached")
    tape = t.locations.alias("tape")
    query = (
        select(
            f.c.id,
            f.c.holding_id,
            h.c.user,
            h.c.group,
            h.c.label,
            f.c.path,
            f.c.size,
            cached.c.path.label("object_key"),
            cached.c.access_time,
        )
        .select_from(
            f.join(h, h.c.id == f.c.holding_id)
            .join(
                cached,
                and_(cached.c.file_id == f.c.id, cached.c.storage_type == "OBJECT_STORAGE"),
            )
            .join(tape, and_(tape.c.file_id == f.c.id, tape.c.storage_type == "TAPE"))
        )
        .where(f.c.state == "CATALOGED")
        .order_by(cached.c.access_time, f.c.id)
    )
    rows = conn.execute(query).all()
    tags = _tags(conn, {r.holding_id for r in rows})
    return [
        CachedCopy(
            file_id=r.id,
            holding_id=r.holding_id,
            user=r.user,
            group=r.group,
            label=r.label,
            path=r.path,
            object_key=r.object_key,
            size=r.size,
            access_time=r.access_time,
            tags=tags.get(r.holding_id, {}),
        )
        for r in rows
    ]


def _tags(conn: Connection, holding_ids: set[int]) -> dict[int, dict[str, str]]:
    found: dict[int, dict[str, str]] = defaultdict(dict)
    ids = sorted(holding_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in conn.execute(select(t.tags).where(t.tags.c.holding_id.in_(chunk))):
            found[row.holding_id][row.key] = row.value
    return found
