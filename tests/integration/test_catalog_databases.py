"""The catalog runs on both of its databases: the stack's PostgreSQL and SQLite."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    event,
    insert,
    select,
    text,
)

from projections.db import make_engine
from projections.queries import rows_with_ids
from projections.writes import COPY_FROM, FRESH, insert_ignoring_duplicates, upsert


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request, settings, tmp_path):
    url = (
        settings.postgres_url
        if request.param == "postgresql"
        else (f"sqlite:///{tmp_path / 'catalog.db'}")
    )
    assert url, "the stack file names no PostgreSQL URL"
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_rows_written_and_read_back(engine):
    metadata = MetaData()
    table = Table(
        f"probe_{uuid.uuid4().hex[:8]}",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("label", String(200), nullable=False),
        Column("path", LargeBinary, nullable=False),
    )
    metadata.create_all(engine)
    try:
        rows = [
            {"id": i, "label": f"holding {i}", "path": b"/data/\xff" + bytes([i])}
            for i in range(100)
        ]
        with engine.begin() as conn:
            conn.execute(insert(table), rows)
        with engine.connect() as conn:
            got = [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.id))]
        assert got == rows
    finally:
        metadata.drop_all(engine)


def test_a_replay_copies_straight_in_and_takes_a_fact_seen_twice(settings):
    """Fresh tables (a replay) take big batches by a plain COPY; a batch that meets rows
    already there (the log holds a fact twice) still goes in, duplicates skipped."""
    engine = make_engine(settings.postgres_url)
    metadata = MetaData()
    table = Table(
        f"fresh_{uuid.uuid4().hex[:8]}",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("label", String(200), nullable=False),
    )
    metadata.create_all(engine)
    fresh = engine.execution_options(**{FRESH: True})
    try:
        first = [{"id": i, "label": f"first {i}"} for i in range(COPY_FROM)]
        again = [{"id": i, "label": f"again {i}"} for i in range(COPY_FROM // 2, COPY_FROM * 2)]
        with fresh.begin() as conn:
            insert_ignoring_duplicates(conn, table, first)
        with fresh.begin() as conn:
            insert_ignoring_duplicates(conn, table, again)
        with engine.connect() as conn:
            rows = {row.id: row.label for row in conn.execute(select(table.c.id, table.c.label))}
        assert len(rows) == COPY_FROM * 2
        assert rows[COPY_FROM - 1] == f"first {COPY_FROM - 1}"  # the first fact stands
        assert rows[COPY_FROM] == f"again {COPY_FROM}"
    finally:
        metadata.drop_all(engine)
        engine.dispose()


def test_an_upsert_into_fresh_tables_copies_and_keeps_its_rule_for_a_row_seen_twice(settings):
    """Into fresh tables an upsert's big batch is COPYed straight in; one that meets rows
    already there updates them as the live upsert does, only where its rule says so."""
    engine = make_engine(settings.postgres_url)
    metadata = MetaData()
    table = Table(
        f"fresh_{uuid.uuid4().hex[:8]}",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("time", Integer, nullable=False),
        Column("label", String(200), nullable=False),
    )
    metadata.create_all(engine)
    fresh = engine.execution_options(**{FRESH: True})

    def earlier(proposed):
        return proposed.time < table.c.time

    try:
        first = [{"id": i, "time": 10, "label": f"first {i}"} for i in range(COPY_FROM)]
        again = [
            {"id": i, "time": 5 if i % 2 else 20, "label": f"again {i}"}
            for i in range(COPY_FROM // 2, COPY_FROM * 2)
        ]
        with fresh.begin() as conn:
            upsert(conn, table, first, keys=("id",), where=earlier)
        with fresh.begin() as conn:
            upsert(conn, table, again, keys=("id",), where=earlier)
        with engine.connect() as conn:
            rows = {r.id: r.label for r in conn.execute(select(table.c.id, table.c.label))}
        assert len(rows) == COPY_FROM * 2
        odd, even = COPY_FROM // 2 + 1, COPY_FROM // 2 + 2  # seen twice
        assert rows[odd] == f"again {odd}"  # earlier: taken
        assert rows[even] == f"first {even}"  # later: kept
        assert rows[COPY_FROM + 1] == f"again {COPY_FROM + 1}"
    finally:
        metadata.drop_all(engine)
        engine.dispose()


def test_rows_of_many_ids_come_back_whole_and_through_the_index(engine):
    """``rows_with_ids`` finds every row of 2,500 ids (more than one IN list's worth on
    SQLite); on PostgreSQL, with its default costs, through the primary key's index,
    where an IN list of them made it scan the whole table."""
    metadata = MetaData()
    table = Table(
        f"sums_{uuid.uuid4().hex[:8]}",
        metadata,
        Column("file_id", BigInteger, primary_key=True),
        Column("algorithm", String(16), primary_key=True),
        Column("value", String(128), nullable=False),
    )
    metadata.create_all(engine)
    many = 200_000 if engine.dialect.name == "postgresql" else 6_000
    try:
        with engine.begin() as conn:
            rows = [
                {"file_id": i, "algorithm": a, "value": f"{a}{i}"}
                for i in range(many)
                for a in ("ADLER32", "SHA256")
            ]
            conn.execute(insert(table), rows)
            if engine.dialect.name == "postgresql":
                conn.execute(text(f"ANALYZE {table.name}"))
        wanted = list(range(0, many, many // 2500))[:2500]
        seen: list[tuple[str, object]] = []

        def record(_conn, _cursor, statement, parameters, _context, _many):
            seen.append((statement, parameters))

        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SET random_page_cost = 4"))  # the server's default
            event.listen(conn, "before_cursor_execute", record)
            query = select(table.c.file_id, table.c.value)
            got = sorted(rows_with_ids(conn, query, table.c.file_id, wanted))
            event.remove(conn, "before_cursor_execute", record)
            assert got == sorted((i, f"{a}{i}") for i in wanted for a in ("ADLER32", "SHA256"))
            assert list(rows_with_ids(conn, query, table.c.file_id, [])) == []
            if engine.dialect.name == "postgresql":
                [(statement, parameters)] = seen
                raw = conn.connection.dbapi_connection.cursor()
                raw.execute("EXPLAIN " + statement, parameters)
                plan = "\n".join(line for (line,) in raw.fetchall())
                assert f"Seq Scan on {table.name}" not in plan, plan
    finally:
        metadata.drop_all(engine)
