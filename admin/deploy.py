"""``python -m admin.deploy init``: what a deployment does once before its processes
start (and may do again at every upgrade: each step is idempotent). Creates the topics,
publishes the schemas, migrates the catalog database and creates the cache bucket.

``python -m admin.deploy acls [--prefix P] [--print]``: makes the cluster's ACLs of
nearline's principals those of ``nearline.kafka_access`` (run as the admin principal),
or prints them as ``kafka-acls.sh`` commands for a site that applies ACLs its own way."""

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


def acl_commands(prefix: str = "") -> list[str]:
    """The ACLs of ``nearline.kafka_access`` as ``kafka-acls.sh`` commands."""
    from nearline.kafka_access import rows

    return [
        "kafka-acls.sh --bootstrap-server $BOOTSTRAP --command-config admin.properties --add"
        f" --allow-principal {principal} --operation {operation} --{resource} {name}"
        f" --resource-pattern-type {pattern}"
        for principal, resource, name, pattern, operation in rows(prefix)
    ]


def acls(settings: Settings, prefix: str = "") -> tuple[int, int]:
    from nearline.kafka_access import apply_acls

    return apply_acls(bus.admin(settings), prefix)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m admin.deploy")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="topics, schemas, database, bucket")
    acl = commands.add_parser("acls", help="the ACLs of nearline's Kafka principals")
    acl.add_argument("--prefix", default="", help="put before each principal's name")
    acl.add_argument("--print", action="store_true", help="print kafka-acls.sh commands")
    args = parser.parse_args(argv)
    if args.command == "init":
        settings = get_settings()
        logs.setup(settings, "init")
        init(settings)
    elif args.print:
        print("\n".join(acl_commands(args.prefix)))
    else:
        created, deleted = acls(get_settings(), args.prefix)
        print(f"ACLs of nearline's principals: {created} created, {deleted} deleted")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
