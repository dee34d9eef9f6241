"""SQLite's REGEXP, which FIND, a GET's selection and carts use on the embedded catalog, is
RE2 (``nearline.patterns``), not the backtracking ``re.search`` SQLAlchemy registers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, literal, select

from nearline.settings import Settings
from projections import tables as t
from projections.db import make_engine
from projections.migrate import upgrade
from projections.queries.access import Scope
from projections.queries.files import find_files
from projections.queries.filters import HoldingSelector, holding_conditions
from projections.queries.reader import catalog_reader

# Paths on which a backtracking engine takes hours for the patterns below.
RUN_OF_A = b"/data/" + b"a" * 40 + b"!"
RUN_OF_X = b"/data/" + b"x" * 44
PLAIN = b"/data/ok.nc"


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[Engine]:
    """A read-only engine on a catalog of one holding of alice's with those paths."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    writer = make_engine(url)
    upgrade(writer)
    holding = {"user": "alice", "group": "g", "transaction_id": "t1", "created_at": 0}
    with writer.begin() as conn:
        conn.execute(insert(t.holdings), [{"id": 1, "label": "a" * 40 + "!", **holding}])
        conn.execute(
            insert(t.files),
            [
                {
                    "id": n,
                    "holding_id": 1,
                    "transaction_id": "t1",
                    "path": path,
                    "path_type": "FILE",
                    "link_path": None,
                    "size": 1,
                    "mode": 0o644,
                    "uid": 1000,
                    "gid": 1000,
                    "mtime_ns": 0,
                    "state": "CATALOGED",
                    "created_at": 0,
                }
                for n, path in enumerate((RUN_OF_A, RUN_OF_X, PLAIN), 1)
            ],
        )
    writer.dispose()
    engine = catalog_reader(Settings(home=tmp_path, catalog={"url": url}))
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    ("pattern", "found"),
    [(r"(a+)+$", []), (r"(x+x+)+y", []), (r"^/data/(x+x+)+$", [RUN_OF_X]), (r"\.nc$", [PLAIN])],
)
def test_find_with_a_catastrophic_pattern_answers_at_once(reader, pattern, found):
    started = time.monotonic()
    with reader.connect() as conn:
        files = find_files(conn, Scope("alice"), HoldingSelector(), regex=pattern)
    assert time.monotonic() - started < 2.0
    assert [f.path for f in files] == found


def test_a_label_regex_is_re2_too(reader):
    started = time.monotonic()
    with reader.connect() as conn:
        selector = HoldingSelector(label=r"(a+)+$", label_regex=True)
        query = select(t.holdings.c.id).where(*holding_conditions(Scope("alice"), selector))
        assert conn.execute(query).all() == []
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("engine_of", ["writer", "reader"])
def test_regexp_is_re2_on_every_sqlite_engine(reader, tmp_path, engine_of):
    engine = make_engine("sqlite://") if engine_of == "writer" else reader
    with engine.connect() as conn:

        def regexp(text: str, pattern: str) -> bool:
            return bool(conn.execute(select(literal(text).regexp_match(pattern))).scalar())

        # Where RE2 (as PostgreSQL) and Python's re differ: re would say True, then False.
        assert regexp("a\n", "a$") is False
        assert regexp("a\nb", "a.b") is True
        assert regexp("/x/ok.nc", r"\.nc$") is True
        started = time.monotonic()
        assert regexp(RUN_OF_A.decode(), r"(a+)+$") is False
        assert time.monotonic() - started < 1.0
