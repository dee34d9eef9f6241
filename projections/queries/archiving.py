"""The archive sweep's selection: cached files without a tape copy and none in flight,
read from the catalog projection. The sweeper reads it through the port its wiring
builds (``processors.sweeper.wiring``, decision D140); the projection's
``archive_pending`` rows keep the next sweeps from selecting files in flight at all.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, and_, exists, select

from events.work import ArchiveMember
from projections import tables as t


@dataclass(frozen=True)
class ToArchive:
    """A cached file with no tape copy and none in flight, and its holding's owner."""

    holding_id: int
    user: str
    group: str
    member: ArchiveMember


def unarchived(
    conn: Connection, limit: int, holding_ids: Collection[int] | None = None
) -> list[ToArchive]:
    """Up to ``limit`` files to archive (of these holdings only, if given), in holding and
    path order."""
    f, h, loc = t.files, t.holdings, t.locations
    sha, adler = t.checksums.alias("sha"), t.checksums.alias("adler")
    tape = t.locations.alias("tape")
    query = (
        select(
            f.c.id,
            f.c.holding_id,
            h.c.user,
            h.c.group,
            f.c.path,
            f.c.size,
            f.c.mode,
            f.c.mtime_ns,
            loc.c.path.label("object_key"),
            sha.c.value.label("sha256"),
            adler.c.value.label("adler32"),
        )
        .select_from(
            f.join(h, h.c.id == f.c.holding_id)
            .join(loc, and_(loc.c.file_id == f.c.id, loc.c.storage_type == "OBJECT_STORAGE"))
            .join(sha, and_(sha.c.file_id == f.c.id, sha.c.algorithm == "SHA256"))
            .join(adler, and_(adler.c.file_id == f.c.id, adler.c.algorithm == "ADLER32"))
        )
        .where(
            f.c.state == "CATALOGED",
            f.c.path_type == "FILE",
            h.c.deleted.is_(False),
            ~exists().where(and_(tape.c.file_id == f.c.id, tape.c.storage_type == "TAPE")),
            ~exists().where(t.archive_pending.c.file_id == f.c.id),
        )
        .order_by(f.c.holding_id, f.c.path)
        .limit(limit)
    )
    if holding_ids is not None:
        query = query.where(f.c.holding_id.in_(list(holding_ids)))
    return [
        ToArchive(
            r.holding_id,
            r.user,
            r.group,
            ArchiveMember(
                file_id=r.id,
                path=r.path,
                object_key=r.object_key,
                size=r.size,
                mode=r.mode,
                mtime_ns=r.mtime_ns,
                sha256=r.sha256,
                adler32=r.adler32,
            ),
        )
        for r in conn.execute(query)
    ]
