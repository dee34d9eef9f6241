"""A replay loads PostgreSQL as a bulk load is done by hand: its fresh tables get their
secondary indexes and foreign keys once the bulk is in, checked then, and its
connections never switch to generic prepared plans (D196)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from projections import fresh_load
from projections import tables as t
from projections.db import make_engine
from projections.definitions import CATALOG_TABLES, projection
from projections.replay import (
    _writer,
    existing_replay_tables,
    fresh_tables,
    replay_tables,
    replay_until,
)


@pytest.fixture
def engine(settings):
    engine = make_engine(settings.postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture
def schema(engine):
    name = f"nearline_test_{uuid.uuid4().hex[:8]}"
    yield name
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))


def indexes_and_foreign_keys(engine, schema) -> tuple[set[str], set[str]]:
    inspector = inspect(engine)
    names = [table.name for table in CATALOG_TABLES]
    indexes = {
        i["name"]
        for n in names
        for i in inspector.get_indexes(n, schema=schema)
        if not i.get("duplicates_constraint")  # a unique constraint's, which stays
    }
    fks = {
        f"{n}.{f['constrained_columns'][0]}"
        for n in names
        for f in inspector.get_foreign_keys(n, schema=schema)
    }
    return indexes, fks


def declared() -> tuple[set[str], set[str]]:
    indexes = {index.name for table in CATALOG_TABLES for index in table.indexes}
    fks = {
        f"{table.name}.{fk.column_keys[0]}"
        for table in CATALOG_TABLES
        for fk in table.foreign_key_constraints
    }
    return indexes, fks  # type: ignore[return-value]


def test_fresh_tables_wait_for_their_indexes_until_the_replay_is_done(engine, settings, schema):
    fresh_tables(engine, "catalog", schema)
    assert indexes_and_foreign_keys(engine, schema) == (set(), set())
    with engine.connect() as conn:  # the keys the lookups of later facts need stay
        files = inspect(conn).get_pk_constraint("files", schema=schema)
    assert files["constrained_columns"] == ["id"]

    replay_until(engine, settings, projection("catalog", settings.s3.bucket), {}, schema=schema)

    assert indexes_and_foreign_keys(engine, schema) == declared()
    with engine.connect() as conn:
        analyzed = conn.execute(
            text(
                "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE schemaname = :schema AND relname = 'files'"
            ),
            {"schema": schema},
        ).scalar_one()
    assert analyzed


def test_a_row_that_breaks_a_foreign_key_fails_the_replay_at_its_end(engine, schema):
    fresh_tables(engine, "catalog", schema)
    checksums = replay_tables(schema)[t.checksums.name]
    with engine.begin() as conn:  # no check while the bulk runs
        conn.execute(insert(checksums).values(file_id=42, algorithm="SHA256", value="00"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        fresh_load.complete(conn, existing_replay_tables(engine, schema))


def test_tables_made_as_the_live_ones_are_not_touched(engine, schema):
    fresh_tables(engine, "catalog", schema, bulk_load=False)
    assert indexes_and_foreign_keys(engine, schema) == declared()


def test_the_replay_connections_plan_each_statement_afresh(engine, schema):
    writer, release = _writer(engine, schema)
    try:
        with writer.connect() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None and driver.prepare_threshold is None
            for _ in range(10):
                conn.execute(select(1))
            prepared = conn.execute(text("SELECT count(*) FROM pg_prepared_statements"))
            assert prepared.scalar_one() == 0
    finally:
        release()
