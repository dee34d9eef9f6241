"""Batched, idempotent row writes for both catalog databases."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from operator import itemgetter
from typing import Any

from psycopg.errors import UniqueViolation
from sqlalchemy import ColumnElement, Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

COPY_FROM = 200
"""Rows from which PostgreSQL inserts go through COPY."""

FRESH = "nearline_fresh_tables"
"""Execution option of a connection writing tables that started empty (a replay): rows
are COPYed straight in, and only a batch that meets a row already there (a fact the log
holds twice) takes the idempotent path."""


def insert_ignoring_duplicates(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> None:
    """Insert rows; a row whose key exists already (a redelivered fact) is skipped."""
    if not rows:
        return
    dialect = conn.dialect.name
    if _fresh_and_big(conn, rows) and _copy_straight(conn, table, rows):
        return
    if dialect == "postgresql" and len(rows) >= COPY_FROM:
        _copy_ignoring_duplicates(conn, table, rows)
        return
    module = postgresql if dialect == "postgresql" else sqlite
    conn.execute(module.insert(table).on_conflict_do_nothing(), list(rows))


def _fresh_and_big(conn: Connection, rows: Sequence[dict[str, Any]]) -> bool:
    """PostgreSQL tables that started empty, and enough rows for a COPY."""
    return (
        conn.dialect.name == "postgresql"
        and len(rows) >= COPY_FROM
        and bool(conn.get_execution_options().get(FRESH))
    )


def _copy_straight(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> bool:
    """PostgreSQL: COPY the rows into the table itself, each row written once. False,
    with nothing written, if one of them is there already."""
    target, _load = _names(conn, table)
    names = tuple(rows[0])
    columns = ", ".join(f'"{n}"' for n in names)
    values = itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
    types = _binary_types(table, names)
    statement = f"COPY {target} ({columns}) FROM STDIN"
    savepoint = conn.begin_nested()
    cursor: Any = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor, cursor.copy(statement + (" (FORMAT BINARY)" if types else "")) as copy:
            if types:
                copy.set_types(types)
            for row in rows:
                copy.write_row(values(row))
    except UniqueViolation:
        savepoint.rollback()
        return False
    except Exception as error:
        savepoint.rollback()
        raise DBAPIError(f"COPY into {target}", None, error) from error
    savepoint.commit()
    return True


_BINARY = {
    "BIGINT": "int8",
    "INTEGER": "int4",
    "BOOLEAN": "bool",
    "BYTEA": "bytea",
    "TEXT": "text",
    "VARCHAR": "varchar",
}
"""PostgreSQL types a COPY sends in binary: half the client's formatting of text, and
no parsing of numbers or hex on the server."""


@cache
def _binary_types(table: Table, names: tuple[str, ...]) -> list[str] | None:
    """The types of the columns ``names`` for a binary COPY; None when one is of
    another type (JSON), for which the COPY stays text."""
    compiled = [table.c[n].type.compile(dialect=_POSTGRESQL) for n in names]
    types = [_BINARY.get(name.split("(")[0]) for name in compiled]
    return None if None in types else types  # type: ignore[return-value]


_POSTGRESQL = postgresql.dialect()


def _names(conn: Connection, table: Table) -> tuple[str, str]:
    """The table's qualified name on this connection, and its loading table's."""
    translate = conn.get_execution_options().get("schema_translate_map") or {}
    schema = translate.get(table.schema, table.schema)
    target = f'"{schema}"."{table.name}"' if schema else f'"{table.name}"'
    return target, f'"nearline_load_{schema or "public"}_{table.name}"'


def _copy_ignoring_duplicates(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> None:
    """PostgreSQL: COPY the rows into a temporary table of the same shape, then insert
    what is new. Several times faster than row-by-row inserts for big batches."""
    target, load = _names(conn, table)
    names = list(rows[0])
    columns = ", ".join(f'"{n}"' for n in names)
    cursor: Any = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        _copy_rows(cursor, load, target, columns, names, rows)
    except Exception as error:
        # Callers (the runner's backoff, the replay's swap) handle SQLAlchemy's errors.
        raise DBAPIError(f"COPY into {target}", None, error) from error


def _copy_rows(
    cursor: Any,
    load: str,
    target: str,
    columns: str,
    names: list[str],
    rows: Sequence[dict[str, Any]],
) -> None:
    with cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {load} (LIKE {target}) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY {load} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[n] for n in names])
        cursor.execute(
            f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {load} ON CONFLICT DO NOTHING"
        )
        cursor.execute(f"TRUNCATE {load}")


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    where: Callable[[Any], ColumnElement[bool]] | None = None,
) -> None:
    """Insert rows, or update every non-key column of the row with the same key (only
    where ``where``, given the proposed row as ``excluded``, holds)."""
    if not rows:
        return
    dialect = conn.dialect.name
    # Into a fresh table, inserting rows with keys not there yet is what the upsert does.
    if _fresh_and_big(conn, rows) and _copy_straight(conn, table, rows):
        return
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table)
    columns = [c for c in rows[0] if c not in keys]
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: statement.excluded[c] for c in columns},
        where=where(statement.excluded) if where is not None else None,
    )
    conn.execute(statement, list(rows))
