"""The files a client named for a cart (Pacifica's cart wire), found in bounded batches:
the owner's holding with the request's label, as the requester reads it, and the
requested paths in it, with their checksums and copies (D162)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from domain.access import Scope
from events.carts import CartOfFilesRequested
from projections import tables as t
from projections.queries import chunked
from projections.queries.filters import HoldingSelector, holding_conditions


@dataclass(frozen=True)
class Copy:
    storage_type: str
    path: str  # object key, or member in the aggregate


@dataclass
class NamedFile:
    id: int
    holding_id: int
    group: str
    path: bytes
    size: int
    mode: int
    mtime_ns: int
    checksums: dict[str, str] = field(default_factory=dict)
    locations: list[Copy] = field(default_factory=list)


def named_cart_files(conn: Connection, request: CartOfFilesRequested) -> dict[bytes, NamedFile]:
    """The regular files the request names, by path, that the requester may read in the
    owner's holding: the owner reads it as its own, anyone else as a member of the group
    the request was made in (FIND with groupall)."""
    own = request.user == request.owner
    scope = Scope(request.user, None if own else request.group, groupall=not own)
    h, f = t.holdings, t.files
    holdings = select(h.c.id).where(
        *holding_conditions(scope, HoldingSelector(request.label)), h.c.user == request.owner
    )
    found: dict[bytes, NamedFile] = {}
    paths = list(dict.fromkeys(entry["path"] for entry in request.files))
    for chunk in chunked(paths):
        rows = conn.execute(
            select(f.c.id, f.c.holding_id, h.c.group, f.c.path, f.c.size, f.c.mode, f.c.mtime_ns)
            .select_from(f.join(h, h.c.id == f.c.holding_id))
            .where(
                f.c.holding_id.in_(holdings),
                f.c.path.in_(chunk),
                f.c.state == "CATALOGED",
                f.c.path_type == "FILE",
            )
        ).all()
        files = {r.id: NamedFile(**r._asdict()) for r in rows}
        _add_copies(conn, files)
        found |= {file.path: file for file in files.values()}
    return found


def _add_copies(conn: Connection, files: dict[int, NamedFile]) -> None:
    ids = list(files)
    for row in conn.execute(select(t.checksums).where(t.checksums.c.file_id.in_(ids))):
        files[row.file_id].checksums[row.algorithm] = row.value
    loc = t.locations
    copies: dict[int, list[Copy]] = defaultdict(list)
    for row in conn.execute(select(loc).where(loc.c.file_id.in_(ids))):
        copies[row.file_id].append(Copy(row.storage_type, row.path))
    for file_id, found in copies.items():
        files[file_id].locations = sorted(found, key=lambda c: c.storage_type)
