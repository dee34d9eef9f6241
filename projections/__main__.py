"""The projection process: ``python -m projections`` keeps the catalog and status tables
up to date with the log."""

from __future__ import annotations

import logging

from events.topics import CATALOG, STATUS
from nearline.settings import get_settings
from projections import catalog, status
from projections.db import catalog_engine
from projections.migrate import upgrade
from projections.runner import Projection, ProjectionRunner, run_until_signalled


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    engine = catalog_engine(settings)
    upgrade(engine)
    bucket = settings.s3.bucket
    runners = [
        ProjectionRunner(
            Projection(
                catalog.NAME, (CATALOG,), lambda conn, events: catalog.apply(conn, events, bucket)
            ),
            engine,
            settings,
        ),
        ProjectionRunner(Projection(status.NAME, (STATUS,), status.apply), engine, settings),
    ]
    run_until_signalled(runners)


if __name__ == "__main__":
    main()
