"""Read-only queries on the projection tables, each taking a SQLAlchemy connection and a
``Scope``: the API renders their results, and the decider selects a GET's files with the
same query as FIND (decision D11)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import BigInteger, ColumnElement, Connection, Row, Select, bindparam, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError

from domain.queries import InvalidQuery, QueryTooSlow

T = TypeVar("T")


_INVALID_REGEX = "2201B"
_QUERY_CANCELED = "57014"


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn the database's verdicts on a caller's input into errors the caller can act on."""
    try:
        yield
    except DBAPIError as error:
        code = getattr(error.orig, "sqlstate", None)
        if code == _INVALID_REGEX:
            raise InvalidQuery(
                f"The database cannot use this regular expression ({error.orig}); write it "
                "in the syntax PostgreSQL shares with RE2: no named groups, no \\p{...} "
                "classes, flags such as (?i) only at the start, counts up to {255}."
            ) from None
        if code == _QUERY_CANCELED:
            raise QueryTooSlow(
                "The search took too long and was stopped; narrow it with a label, a holding "
                "id, tags or a more specific regular expression."
            ) from None
        raise


def chunked(ids: Sequence[T], size: int = 1000) -> list[Sequence[T]]:
    """Bounded IN lists: SQLite limits the bound parameters of a statement."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def rows_with_ids(
    conn: Connection, query: Select[Any], column: ColumnElement[int], ids: Sequence[int]
) -> Iterator[Row[Any]]:
    """The rows of ``query`` whose ``column`` is one of ``ids``. PostgreSQL gets them in
    one statement, joined to the array of ids: the planner probes ``column``'s index for
    each, where an IN list of a thousand ids made it scan a table of a few hundred
    thousand rows whole (its default costs assume disks that seek). Others get bounded
    IN lists."""
    if not ids:
        return
    if conn.dialect.name == "postgresql":
        wanted = func.unnest(bindparam("ids", list(ids), type_=ARRAY(BigInteger)))
        listed = wanted.table_valued("id").render_derived(name="wanted")
        # Fetched at once: a row fetched at a time costs more than its share of the query.
        yield from conn.execute(query.join(listed, column == listed.c.id)).all()
        return
    for chunk in chunked(ids):
        yield from conn.execute(query.where(column.in_(chunk))).all()
