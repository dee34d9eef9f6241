"""The catalog database: one engine factory for PostgreSQL and the embedded SQLite."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

from nearline import patterns
from nearline.settings import Settings


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``, tuned for its dialect."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "connect", _sqlite_regexp)
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


def _sqlite_regexp(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy registers Python's backtracking ``re.search`` as REGEXP on connect, before
    # this listener runs; RE2 replaces it, as for every user's pattern (D91).
    dbapi_connection.create_function("regexp", 2, _regexp, deterministic=True)


def _regexp(pattern: str | None, text: str | None) -> bool | None:
    # ``text REGEXP pattern`` calls regexp(pattern, text); NULL in, NULL out, as SQL does.
    if pattern is None or text is None:
        return None
    return patterns.matches(pattern, text)
