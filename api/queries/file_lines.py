"""FIND's pages written by PostgreSQL: each file already as its JSON line (``FileOut``'s
bytes), a page as one text, so that the API forwards a listing instead of building it
(D210). The files, their order, the access rules and the pages are those of
``file_pages``; only where the lines are written changes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Text,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy import text as sql_text

from api.queries import json_sql as j
from api.queries.file_pages import EVERY, Listing, Sizes, keyset_pages
from domain.states import OBJECT_STORAGE, TAPE
from projections import tables as t
from projections.queries.files import Position, listed

PATH_TYPES = ("FILE", "DIRECTORY", "LINK")
STORAGE_TYPES = (OBJECT_STORAGE, TAPE)
ALGORITHMS = ("ADLER32", "SHA256")
"""The values these columns hold, written as constants (any other still as it is)."""


@dataclass(frozen=True)
class Lines:
    """A page of a listing as NDJSON: ``count`` files, each a line ending in a newline."""

    text: bytes
    count: int
    last: Position


def _checksums() -> str:
    # A file's rows in the order of their primary key's index: no sort per file.
    pair = f"{j.known('c.algorithm', ALGORITHMS)} || ':' || {j.string('c.value')}"
    return (
        f"coalesce((SELECT '{{' || string_agg(pair, ',') || '}}' FROM (SELECT {pair} AS pair "
        "FROM checksums c WHERE c.file_id = p.id ORDER BY c.algorithm) s), '{}')"
    )


def _locations() -> str:
    url = j.url("p.store", "l.root", "l.path")
    copy = j.json_object(
        ("storage_type", j.known("l.storage_type", STORAGE_TYPES)),
        ("root", j.string("l.root")),
        ("path", j.string("l.path")),
        ("access_time", j.moment("l.access_time")),
        (
            "url",
            f"CASE WHEN l.storage_type = {j.constant(OBJECT_STORAGE)} THEN {url} ELSE 'null' END",
        ),
    )
    return (
        f"coalesce((SELECT '[' || string_agg(copy, ',') || ']' FROM (SELECT {copy} AS copy "
        "FROM locations l WHERE l.file_id = p.id ORDER BY l.storage_type) s), '[]')"
    )


def _line() -> str:
    return j.json_object(
        ("holding_id", "p.holding_id::text"),
        ("label", j.string("p.label")),
        ("user", j.string('p."user"')),
        ("group", j.string('p."group"')),
        ("transaction_id", j.string("p.transaction_id")),
        ("ingest_time", j.moment("p.ingest_time")),
        ("path", j.string("p.path_text")),
        ("path_b64", j.path_b64("p.path", "p.path_text")),
        ("path_type", j.known("p.path_type", PATH_TYPES)),
        ("link_path", j.string(j.path_text("p.link_path"))),
        ("link_path_b64", j.path_b64("p.link_path", j.path_text("p.link_path"))),
        ("size", "p.size::text"),
        ("mode", "p.mode::text"),
        ("uid", "p.uid::text"),
        ("gid", "p.gid::text"),
        ("mtime_ns", "p.mtime_ns::text"),
        ("checksums", _checksums()),
        ("locations", _locations()),
    )


LINE = _line()
"""A file's line, ``FileOut`` as pydantic writes it, from a row of the page query ``p``."""


def file_lines(
    engine: Engine, listing: Listing, object_store: str, sizes: Sizes = EVERY
) -> Iterator[Lines]:
    """The pages ``file_pages`` reads, each as the NDJSON text of its files (PostgreSQL
    only). ``object_store`` is the URL the copies in object storage are read from."""
    conditions = listing.conditions()
    store = object_store.rstrip("/")

    def read(conn: Connection, start: Position | None, size: int) -> Lines:
        return _lines(conn, conditions, listing.descending, start, size, store)

    return keyset_pages(engine, read, sizes)


def _lines(
    conn: Connection,
    conditions: Sequence[ColumnElement[bool]],
    descending: bool,
    after: Position | None,
    size: int,
    store: str,
) -> Lines:
    f = t.files
    page = listed(
        conditions,
        descending,
        after,
        size,
        func.nearline_path_text(f.c.path).label("path_text"),
        literal(j.inside_string(store), Text).label("store"),
    ).subquery("p")
    # Compiling this query's expressions (JIT) costs 70-200 ms, more than the page itself
    # (D228), and PostgreSQL does it whenever it estimates the page's rows as many (a
    # holding that is not the catalog's last, a generic plan): never for a page.
    conn.execute(sql_text("SET LOCAL jit = off"))
    # The page's rows reach the aggregate in the page's order (that of the index it
    # reads: no sort), so its lines are joined in that order.
    lines = func.string_agg(literal_column(LINE, Text), literal_column("E'\\n'", Text))
    text, count = conn.execute(select(lines, func.count()).select_from(page)).one()
    if not count:
        return Lines(b"", 0, Position(0, b""))
    return Lines((text + "\n").encode(), count, _key(text[text.rfind("\n") + 1 :]))


def _key(line: str) -> Position:
    """The listing's key of a file from its line: the path is its text's UTF-8 exactly
    when no base64 of its bytes is given."""
    fields = json.loads(line)
    b64 = fields["path_b64"]
    path = base64.b64decode(b64) if b64 is not None else fields["path"].encode()
    return Position(fields["holding_id"], path)
