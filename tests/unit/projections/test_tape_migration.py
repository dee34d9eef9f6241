"""Migration 0005 on SQLite: the tape tables appear as the models declare them, and go."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from projections import tables as t
from projections.db import make_engine
from projections.migrate import alembic_config, upgrade

TAPE_TABLES = {"aggregates", "aggregate_members", "archive_pending"}


def test_upgrade_creates_the_tape_tables_and_downgrade_removes_them(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    upgrade(engine)
    found = inspect(engine)
    assert set(found.get_table_names()) >= TAPE_TABLES
    for name in TAPE_TABLES:
        declared = {c.name for c in t.metadata.tables[name].columns}
        assert {c["name"] for c in found.get_columns(name)} == declared
    assert "ix_locations_type_access" in {i["name"] for i in found.get_indexes("locations")}

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    assert TAPE_TABLES.isdisjoint(inspect(engine).get_table_names())
    upgrade(engine)  # and back again
    assert set(inspect(engine).get_table_names()) >= TAPE_TABLES
    engine.dispose()
