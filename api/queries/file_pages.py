"""FIND as a stream of pages: the files ``find_files`` lists, read by keyset a page at a
time, each page on a connection of its own, so that neither memory nor a transaction
grows with the listing (D146).

A page is three queries: the files, then their checksums and their locations selected by
the same page query as a subquery, so that no list of ids travels to the database and
back. Rows stay rows (no object per file): the API renders them as they are (D200)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, Select, and_, func, literal, select, tuple_

from domain.access import Scope
from projections import tables as t
from projections.queries import database_errors
from projections.queries.files import Position
from projections.queries.filters import HoldingSelector, checked_regex, holding_conditions

PAGE = 5000
"""Files per query of a stream: large enough that a query's own cost is small beside its
rows, small enough that a page stays a few MiB in the API."""
FIRST_PAGE = 500
"""The first page is read before the reply starts (a bad query is still a 400): small, so
that the first entry goes out at once."""


FILE_COLUMNS = (
    "id", "holding_id", "label", "user", "group", "transaction_id", "ingest_time", "path",
    "path_type", "link_path", "size", "mode", "uid", "gid", "mtime_ns",
)  # fmt: skip
"""The columns of a page's rows, in order: those of ``FoundFile`` without its hard-link
group, checksums and locations."""


Copy = tuple[str, str, str, int]
"""Where a copy of a file is: ``Location``'s fields as a tuple (no object per copy)."""


@dataclass(frozen=True)
class FilePage:
    """A page of a listing: the files' rows (``FILE_COLUMNS``), and their checksums and
    copies by file id."""

    files: Sequence[Row[Any]]
    checksums: dict[int, dict[str, str]]
    locations: dict[int, list[Copy]]


def file_pages(
    engine: Engine,
    scope: Scope,
    selector: HoldingSelector,
    path: bytes | None = None,
    regex: str | None = None,
    limit: int | None = None,
    descending: bool = False,
    page: int = PAGE,
    first_page: int = FIRST_PAGE,
    after: Position | None = None,
) -> Iterator[FilePage]:
    """Every file ``find_files`` would list (at most ``limit``, starting after ``after``),
    in the same order, in pages of ``page`` after a first of ``first_page``; no empty
    page."""
    conditions = _conditions(scope, selector, path, regex)
    left = limit
    wanted = first_page
    while left is None or left > 0:
        size = wanted if left is None else min(wanted, left)
        wanted = page
        with engine.connect() as conn, database_errors():
            found = _page(conn, conditions, descending, after, size)
        if found.files:
            yield found
        if len(found.files) < size:
            return
        last = found.files[-1]
        after = Position(last.holding_id, last.path)
        left = None if left is None else left - len(found.files)


def _conditions(
    scope: Scope, selector: HoldingSelector, path: bytes | None, regex: str | None
) -> list[Any]:
    f = t.files
    conditions = [*holding_conditions(scope, selector), f.c.state == "CATALOGED"]
    if path is not None:
        conditions.append(f.c.path == path)
    if regex is not None:
        conditions.append(func.nearline_path_text(f.c.path).regexp_match(checked_regex(regex)))
    return conditions


def _page(
    conn: Connection,
    conditions: list[Any],
    descending: bool,
    after: Position | None,
    size: int,
) -> FilePage:
    f, h, tx = t.files, t.holdings, t.transactions
    where = list(conditions)
    if after is not None:
        key = tuple_(f.c.holding_id, f.c.path)
        last = tuple_(
            literal(after.holding_id, f.c.holding_id.type), literal(after.path, f.c.path.type)
        )
        where.append(key < last if descending else key > last)
    order = [f.c.holding_id.desc(), f.c.path.desc()] if descending else [f.c.holding_id, f.c.path]
    files: Select[Any] = (
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
        )
        .select_from(
            f.join(h, h.c.id == f.c.holding_id).outerjoin(
                tx, tx.c.transaction_id == f.c.transaction_id
            )
        )
        .where(and_(*where))
        .order_by(*order)
        .limit(size)
    )
    rows = conn.execute(files).all()
    if not rows:
        return FilePage(rows, {}, {})
    ids = files.with_only_columns(f.c.id)
    checksums: dict[int, dict[str, str]] = defaultdict(dict)
    c = t.checksums
    for file_id, algorithm, value in conn.execute(
        select(c.c.file_id, c.c.algorithm, c.c.value).where(c.c.file_id.in_(ids))
    ):
        checksums[file_id][algorithm] = value
    locations: dict[int, list[Copy]] = defaultdict(list)
    loc = t.locations
    for file_id, storage_type, root, key, access_time in conn.execute(
        select(loc.c.file_id, loc.c.storage_type, loc.c.root, loc.c.path, loc.c.access_time)
        .where(loc.c.file_id.in_(ids))
        .order_by(loc.c.storage_type)
    ):
        locations[file_id].append((storage_type, root, key, access_time))
    return FilePage(rows, checksums, locations)
