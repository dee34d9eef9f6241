"""FIND: the cataloged files of the holdings a caller sees, each with its checksums and
locations, by exact path or by a regular expression on the path's text."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    func,
    literal,
    select,
    union_all,
)

from domain.access import Scope
from domain.pack_keys import slice_of
from domain.states import OBJECT_STORAGE
from projections import tables as t
from projections.queries import database_errors, rows_with_ids
from projections.queries.filters import HoldingSelector, checked_regex, holding_conditions


@dataclass(frozen=True)
class Position:
    """Where a listing stopped: the last file it gave."""

    holding_id: int
    path: bytes


@dataclass(frozen=True)
class Location:
    storage_type: str  # OBJECT_STORAGE or TAPE
    root: str  # bucket, or tape aggregate
    path: str  # object key, or member in the aggregate
    access_time: int  # epoch milliseconds

    def url(self, object_store: str) -> str | None:
        """Where the copy is read over HTTP: object storage copies only. A slice of a pack
        (D90) is the pack's URL with the bytes to ask for (an HTTP Range) after ``#``."""
        if self.storage_type != OBJECT_STORAGE:
            return None
        part = slice_of(self.path)
        key, fragment = (
            (part.pack, f"#bytes={part.offset}-{part.last}") if part else (self.path, "")
        )
        return f"{object_store.rstrip('/')}/{quote(self.root)}/{quote(key)}{fragment}"


@dataclass(frozen=True)
class FoundFile:
    id: int
    holding_id: int
    label: str
    user: str
    group: str
    transaction_id: str
    ingest_time: int  # epoch milliseconds
    path: bytes
    path_type: str
    link_path: bytes | None
    size: int
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    link_group: bytes | None = None  # hard links of one PUT (D133)
    checksums: dict[str, str] = field(default_factory=dict)
    locations: list[Location] = field(default_factory=list)


def find_files(
    conn: Connection,
    scope: Scope,
    selector: HoldingSelector,
    path: bytes | None = None,
    regex: str | None = None,
    limit: int | None = None,
    descending: bool = False,
    path_type: str | None = None,
    after: Position | None = None,
) -> list[FoundFile]:
    """Files ordered by holding and path (reversed with ``descending``), at most ``limit``,
    starting after the file at ``after`` (keyset pagination: every page costs the same,
    however far into the listing)."""
    conditions = file_conditions(scope, selector, path, regex, path_type)
    query = listed(conditions, descending, after, limit, t.files.c.link_group)
    with database_errors():
        rows = conn.execute(query).all()
    ids = [r[0] for r in rows]
    checksums = _checksums(conn, ids)
    locations = _locations(conn, ids)
    # A row's columns are FoundFile's fields up to its link group, in order (``listed``):
    # built by position, as reading a row's fields by name cost more than the queries.
    return [
        FoundFile(  # type: ignore[misc]  # the row holds no checksums nor locations
            *r, checksums=checksums.get(r[0], {}), locations=locations.get(r[0], [])
        )
        for r in rows
    ]


def file_conditions(
    scope: Scope,
    selector: HoldingSelector,
    path: bytes | None = None,
    regex: str | None = None,
    path_type: str | None = None,
) -> list[ColumnElement[bool]]:
    """Which files a listing shows: the cataloged files of the holdings ``scope`` sees
    that ``selector`` picks, by exact path, path type (FILE, DIRECTORY or LINK) or a
    regular expression on the path's text."""
    f = t.files
    conditions = [*holding_conditions(scope, selector), f.c.state == "CATALOGED"]
    if path is not None:
        conditions.append(f.c.path == path)
    if path_type is not None:
        conditions.append(f.c.path_type == path_type)
    if regex is not None:
        conditions.append(func.nearline_path_text(f.c.path).regexp_match(checked_regex(regex)))
    return conditions


def listed(
    conditions: Sequence[ColumnElement[bool]],
    descending: bool,
    after: Position | None,
    limit: int | None,
    *more: ColumnElement[Any],
) -> Select[Any]:
    """The files matching ``conditions`` as a listing shows them (the columns of
    ``FoundFile`` up to its hard-link group, then ``more``), in (holding, path) order,
    at most ``limit``, after ``after``.

    The order follows the index on (holding_id, path), so a search that matches many
    files stops as soon as ``limit`` are found, and one that matches few uses the
    trigram index of the path text (PostgreSQL)."""
    f, h, tx = t.files, t.holdings, t.transactions
    files = (
        select(
            f.c.id,
            f.c.holding_id,
            h.c.label,
            h.c.user,
            h.c.group,
            f.c.transaction_id,
            func.coalesce(tx.c.ingest_time, f.c.created_at).label("ingest_time"),
            f.c.path,
            f.c.path_type,
            f.c.link_path,
            f.c.size,
            f.c.mode,
            f.c.uid,
            f.c.gid,
            f.c.mtime_ns,
            *more,
        )
        .select_from(
            f.join(h, h.c.id == f.c.holding_id).outerjoin(
                tx, tx.c.transaction_id == f.c.transaction_id
            )
        )
        .where(and_(*conditions))
    )
    if after is None:
        return files.order_by(*_in_order(f.c, descending)).limit(limit)
    # The rest of the holding the last page ended in, then the holdings after it: each
    # a range of the index of its own. One row comparison for both was read from the
    # start of the holding whenever the holding was also fixed by an equality (btree
    # positions on the equality and reads the row comparison as a filter): a page
    # 900,000 files into a holding took 75 ms instead of 9 (D236).
    holding = literal(after.holding_id, f.c.holding_id.type)
    path = literal(after.path, f.c.path.type)
    rest = and_(f.c.holding_id == holding, f.c.path < path if descending else f.c.path > path)
    later = f.c.holding_id < holding if descending else f.c.holding_id > holding
    parts = [
        files.where(range_).order_by(*_in_order(f.c, descending)).limit(limit).subquery()
        for range_ in (rest, later)
    ]
    both = union_all(*(select(part) for part in parts)).subquery("listed")
    return select(both).order_by(*_in_order(both.c, descending)).limit(limit)


def _in_order(columns: Any, descending: bool) -> list[ColumnElement[Any]]:
    if descending:
        return [columns.holding_id.desc(), columns.path.desc()]
    return [columns.holding_id, columns.path]


PAGE = 2000
"""Files read per query by ``each_file``: the memory a listing holds at once."""


def each_file(
    engine: Engine,
    scope: Scope,
    selector: HoldingSelector,
    path: bytes | None = None,
    regex: str | None = None,
    limit: int | None = None,
    descending: bool = False,
    page: int = PAGE,
) -> Iterator[FoundFile]:
    """Every file ``find_files`` would list, page by page, each page on a connection of
    its own: memory and locks stay bounded however many files match."""
    after: Position | None = None
    left = limit
    while left is None or left > 0:
        size = page if left is None else min(page, left)
        with engine.connect() as conn:
            found = find_files(conn, scope, selector, path, regex, size, descending, after=after)
        yield from found
        if len(found) < size:
            return
        after = Position(found[-1].holding_id, found[-1].path)
        left = None if left is None else left - len(found)


def _checksums(conn: Connection, file_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    found: dict[int, dict[str, str]] = defaultdict(dict)
    c = t.checksums
    query = select(c.c.file_id, c.c.algorithm, c.c.value).order_by(c.c.algorithm)
    for file_id, algorithm, value in rows_with_ids(conn, query, c.c.file_id, file_ids):
        found[file_id][algorithm] = value
    return found


def _locations(conn: Connection, file_ids: Sequence[int]) -> dict[int, list[Location]]:
    loc = t.locations
    found: dict[int, list[Location]] = defaultdict(list)
    copy = (loc.c.storage_type, loc.c.root, loc.c.path, loc.c.access_time)
    query = select(loc.c.file_id, *copy).order_by(loc.c.storage_type)
    for file_id, *where in rows_with_ids(conn, query, loc.c.file_id, file_ids):
        found[file_id].append(Location(*where))
    return found
