"""FIND as a stream of pages: the files ``find_files`` lists, read by keyset a page at a
time, each page on a connection of its own, so that neither memory nor a transaction
grows with the listing (D146).

A page is three queries: the files, then their checksums and their locations selected by
the same page query as a subquery, so that no list of ids travels to the database and
back. Rows stay rows (no object per file): the API renders them as they are (D200)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Connection, Engine, Row, select

from domain.access import Scope
from projections import tables as t
from projections.queries import database_errors
from projections.queries.files import Position, file_conditions, listed
from projections.queries.filters import HoldingSelector

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

    @property
    def count(self) -> int:
        return len(self.files)

    @property
    def last(self) -> Position:
        return Position(self.files[-1].holding_id, self.files[-1].path)


class Page(Protocol):
    """A page of a listing, as rows or as text: how many files, and the last one's key."""

    @property
    def count(self) -> int: ...

    @property
    def last(self) -> Position: ...


P = TypeVar("P", bound=Page)
PageReader = Callable[[Connection, Position | None, int], P]
"""Reads the page of at most the size given that follows the position given."""


@dataclass(frozen=True)
class Listing:
    """Which files a listing shows, in which order: those ``find_files`` would list."""

    scope: Scope
    selector: HoldingSelector
    path: bytes | None = None
    regex: str | None = None
    descending: bool = False

    def conditions(self) -> list[ColumnElement[bool]]:
        return file_conditions(self.scope, self.selector, self.path, self.regex)


@dataclass(frozen=True)
class Sizes:
    """At most ``limit`` files, in pages of ``page`` after a first of ``first_page``,
    starting after ``after``."""

    limit: int | None = None
    page: int = PAGE
    first_page: int = FIRST_PAGE
    after: Position | None = None


EVERY = Sizes()
"""Every file, in pages of the default sizes."""


def file_pages(engine: Engine, listing: Listing, sizes: Sizes = EVERY) -> Iterator[FilePage]:
    """Every file of ``listing`` in the order ``find_files`` gives them, in pages
    (``sizes``); no empty page."""
    conditions = listing.conditions()

    def read(conn: Connection, start: Position | None, size: int) -> FilePage:
        return _page(conn, conditions, listing.descending, start, size)

    return keyset_pages(engine, read, sizes)


def keyset_pages(engine: Engine, read: PageReader[P], sizes: Sizes) -> Iterator[P]:
    """The pages ``read`` gives one after another by keyset (each after the last file of
    the one before), each on a connection of its own, until one is short or ``limit``
    files are read; no empty page."""
    left, wanted, after = sizes.limit, sizes.first_page, sizes.after
    while left is None or left > 0:
        size = wanted if left is None else min(wanted, left)
        wanted = sizes.page
        with engine.connect() as conn, database_errors():
            found = read(conn, after, size)
        if found.count:
            yield found
        if found.count < size:
            return
        after = found.last
        left = None if left is None else left - found.count


def _page(
    conn: Connection,
    conditions: list[Any],
    descending: bool,
    after: Position | None,
    size: int,
) -> FilePage:
    files = listed(conditions, descending, after, size)
    rows = conn.execute(files).all()
    if not rows:
        return FilePage(rows, {}, {})
    ids = select(files.subquery().c.id)
    checksums: dict[int, dict[str, str]] = defaultdict(dict)
    c = t.checksums
    for file_id, algorithm, value in conn.execute(
        select(c.c.file_id, c.c.algorithm, c.c.value)
        .where(c.c.file_id.in_(ids))
        .order_by(c.c.algorithm)
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
