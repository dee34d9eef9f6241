"""Alembic environment: migrates the catalog database that the caller's connection
(or the configured URL) points at."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from projections.db import make_engine
from projections.tables import metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        run(conn)
