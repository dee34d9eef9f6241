"""``python -m nearline.deploy init``: what a deployment does once before its processes
start (and may do again at every upgrade: each step is idempotent). Creates the topics,
publishes the schemas, migrates the catalog database and creates the cache bucket."""

from __future__ import annotations

import sys

from nearline import bus
from nearline.observe import logs
from nearline.settings import Settings, get_settings


def init(settings: Settings) -> None:
    import boto3
    from botocore.config import Config

    from projections.db import catalog_engine
    from projections.migrate import upgrade

    bus.prepare(settings)
    engine = catalog_engine(settings)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    s3 = boto3.client(
        "s3",
        endpoint_url=settings.s3.endpoint_url,
        region_name=settings.s3.region,
        aws_access_key_id=settings.s3.access_key.get_secret_value(),
        aws_secret_access_key=settings.s3.secret_key.get_secret_value(),
        verify=settings.s3.verify_tls,
        config=Config(s3={"addressing_style": "path"}),
    )
    names = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if settings.s3.bucket not in names:
        s3.create_bucket(Bucket=settings.s3.bucket)


def main(argv: list[str]) -> int:
    if argv != ["init"]:
        print("usage: python -m nearline.deploy init", file=sys.stderr)
        return 2
    settings = get_settings()
    logs.setup(settings, "init")
    init(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
