"""The projection process: ``python -m projections`` keeps the catalog, status and cart
tables up to date with the log."""

from __future__ import annotations

from nearline.observe import logs, metrics, server
from nearline.schema_log import learn_writer_schemas
from nearline.settings import get_settings
from projections.db import catalog_engine
from projections.definitions import projection
from projections.migrate import upgrade
from projections.runner import ProjectionRunner, run_until_signalled


def main() -> None:
    settings = get_settings()
    logs.setup(settings, "projections")
    engine = catalog_engine(settings)
    upgrade(engine)
    learn_writer_schemas(settings)
    # One runner for every topic: a batch's catalog rows and its status are committed
    # together, so stat never shows an outcome that find cannot show yet.
    runners = [ProjectionRunner(projection("all", settings.s3.bucket), engine, settings)]
    metrics.REGISTRY.register(metrics.LagCollector(settings, [r.group for r in runners]))
    server.serve(settings)
    run_until_signalled(runners)


if __name__ == "__main__":
    main()
