"""The catalog database: one engine factory for PostgreSQL and the embedded SQLite."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

from nearline.settings import Settings


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``, tuned for its dialect."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the projection writes; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def catalog_engine(settings: Settings) -> Engine:
    settings.home.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.catalog.url)
