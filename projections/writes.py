"""Batched, idempotent row writes for both catalog databases."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignoring_duplicates(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> None:
    """Insert rows; a row whose key exists already (a redelivered fact) is skipped."""
    if not rows:
        return
    dialect = conn.dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    conn.execute(module.insert(table).on_conflict_do_nothing(), list(rows))


def upsert(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert rows, or update every non-key column of the row with the same key."""
    if not rows:
        return
    dialect = conn.dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table)
    columns = [c for c in rows[0] if c not in keys]
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: statement.excluded[c] for c in columns},
    )
    conn.execute(statement, list(rows))


def file_id(holding_id: int, transaction_id: str, path: bytes) -> int:
    """A stable 63-bit id for one version of a file in a holding."""
    digest = hashlib.blake2b(
        b"%d\0%s\0" % (holding_id, transaction_id.encode()) + path, digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") >> 1
