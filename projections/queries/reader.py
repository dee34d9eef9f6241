"""A connection to the catalog database for readers (the API, and the decider selecting a
GET's files): read-only, with a statement time limit, and with SQLite taught the
path-text function that PostgreSQL has natively."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event

from nearline.settings import Settings
from projections.db import make_engine

STATEMENT_TIMEOUT_MS = 20_000
"""A query that runs longer is cancelled, so one user's regex cannot occupy the database."""


def catalog_reader(settings: Settings) -> Engine:
    """An engine for the catalog that refuses writes (the projections own the tables)."""
    url = settings.catalog.url
    if url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = make_engine(url)
        event.listen(engine, "connect", _sqlite_reader)
        return engine
    options = f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c default_transaction_read_only=on"
    # No server-side prepared statements: a generic plan cannot see the regex, and the
    # trigram index is worth using only for the patterns it narrows down.
    return make_engine(url, connect_args={"options": options, "prepare_threshold": None})


def _sqlite_reader(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.create_function("nearline_path_text", 1, _sqlite_path_text, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _sqlite_path_text(path: bytes | None) -> str | None:
    # As api.paths.path_text, which PostgreSQL's nearline_path_text mirrors.
    return None if path is None else bytes(path).decode("utf-8", "backslashreplace")
