"""The catalog runs on both of its databases: the stack's PostgreSQL and SQLite."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, insert, select

from projections.db import make_engine


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
