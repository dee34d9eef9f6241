"""The projection process: ``python -m projections`` keeps the catalog and status tables
up to date with the log."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from events.base import Event
from events.topics import CARTS, CATALOG, STATUS
from nearline.observe import logs, metrics, server
from nearline.schema_log import learn_writer_schemas
from nearline.settings import get_settings
from projections import carts, catalog, status
from projections.db import catalog_engine
from projections.migrate import upgrade
from projections.runner import Projection, ProjectionRunner, run_until_signalled


def main() -> None:
    settings = get_settings()
    logs.setup(settings, "projections")
    engine = catalog_engine(settings)
    upgrade(engine)
    learn_writer_schemas(settings)
    bucket = settings.s3.bucket

    def apply(conn: Connection, events: Sequence[Event]) -> None:
        catalog.apply(conn, events, bucket)
        status.apply(conn, events)
        carts.apply(conn, events)

    # One runner for both topics: a batch's catalog rows and its status are committed
    # together, so stat never shows an outcome that find cannot show yet.
    topics = (CATALOG, STATUS, CARTS)
    runners = [ProjectionRunner(Projection("catalog", topics, apply), engine, settings)]
    metrics.REGISTRY.register(metrics.LagCollector(settings, [r.group for r in runners]))
    server.serve(settings)
    run_until_signalled(runners)


if __name__ == "__main__":
    main()
