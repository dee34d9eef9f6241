"""Loading a replay's fresh PostgreSQL tables fast, as a bulk load is done by hand.

While the replay's bulk runs, its tables keep their primary keys and unique constraints
(the lookups of later facts and the idempotent fallback need them) but not their other
indexes nor their foreign keys: a foreign key is a trigger per row, and an index kept up
row by row costs several times one built at the end. ``complete`` builds them once the
replay has caught up; adding a foreign key checks every row, so a replay that broke one
fails there instead of being swapped in. ``analyze`` gives the planner the tables' sizes
once the first facts are in, for the UPDATEs and DELETEs of later facts.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, ForeignKeyConstraint, Table, inspect, text
from sqlalchemy.schema import AddConstraint, DropConstraint

ANALYZE_AFTER = 20_000
"""Events a replay applies before it ANALYZEs its tables (and again at the end)."""


def defer(conn: Connection, tables: Iterable[Table]) -> None:
    """Drop the secondary indexes and foreign keys of just created, empty ``tables``."""
    if conn.dialect.name != "postgresql":
        return
    tables = list(tables)
    for table in tables:
        for fk in _foreign_keys(table):
            conn.execute(DropConstraint(fk))
    for table in tables:
        for index in table.indexes:
            index.drop(conn)


def complete(conn: Connection, tables: Iterable[Table]) -> None:
    """Build what ``defer`` dropped and is still missing (once, after the bulk)."""
    if conn.dialect.name != "postgresql":
        return
    tables = list(tables)
    inspector = inspect(conn)
    for table in tables:
        have = {i["name"] for i in inspector.get_indexes(table.name, schema=table.schema)}
        for index in table.indexes:
            if index.name not in have:
                index.create(conn)
    for table in tables:
        have = {f["name"] for f in inspector.get_foreign_keys(table.name, schema=table.schema)}
        for fk in _foreign_keys(table):
            if fk.name not in have:
                conn.execute(AddConstraint(fk))
    analyze(conn, tables)


def analyze(conn: Connection, tables: Iterable[Table]) -> None:
    if conn.dialect.name != "postgresql":
        return
    names = ", ".join(_qualified(table) for table in tables)
    conn.execute(text(f"ANALYZE {names}"))


def _qualified(table: Table) -> str:
    return f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'


def _foreign_keys(table: Table) -> list[ForeignKeyConstraint]:
    """The table's foreign keys, each with a name (PostgreSQL's default one)."""
    found = []
    for fk in sorted(table.foreign_key_constraints, key=lambda c: tuple(c.column_keys)):
        if fk.name is None:
            fk.name = f"{table.name}_{'_'.join(fk.column_keys)}_fkey"
        found.append(fk)
    return found
