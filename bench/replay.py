"""Replay rate of the catalog projection into PostgreSQL, next to a plain COPY of the
same rows in the same run.

N synthetic catalog events (per transaction: HoldingCreated, TransactionAccepted,
FilesReserved, FilesCataloged, TransactionFinished, with ``--files`` files per
sub-batch) are written once to a fresh topic, keyed by user like the real one. The
replay reads them with the replay code path (``projections.replay.replay_until``) into
fresh tables; then the rows it produced are COPY'd (psycopg's ``copy``) into empty tables
of the same shape. Both are timed from the database's side of things: rows/s of each,
and their ratio (target: at least 0.80). The replay builds its tables' secondary indexes
and foreign keys after its bulk (its time includes that), so the same rows are also
COPY'd into tables without them, which are then built: the ratio to that is printed too.

    python bench/replay.py [--events 1000000] [--files 1]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from typing import Any

from confluent_kafka.admin import NewTopic
from sqlalchemy import Engine, func, select, text

from events.base import Event
from events.codec import encode
from nearline import bus
from nearline.settings import Settings
from projections import catalog, fresh_load
from projections.definitions import CATALOG_TABLES
from projections.replay import (
    existing_replay_tables,
    fresh_tables,
    replay_tables,
    replay_until,
)
from projections.runner import Part, Projection

try:
    from bench.synthetic import file_entry, put_facts
except ImportError:  # run as a script: its own folder comes first on the path
    from synthetic import file_entry, put_facts  # type: ignore[no-redef]

REPLAY_SCHEMA = "nearline_bench_replay"
COPY_SCHEMA = "nearline_bench_copy"
USERS = 50


def transaction_events(n: int, files: int, partitions: int) -> list[tuple[bytes, Event]]:
    """The five facts of one synthetic PUT of ``files`` files."""
    user = f"user{n % USERS:03d}"
    tx = str(uuid.UUID(int=n + 1))
    holding = (n // partitions) * partitions + n % partitions + 1
    now = 1_700_000_000_000 + n
    entries = [
        file_entry(f"/data/{user}/run{n}/file{i:04d}.nc".encode(), 1000 + i, now * 1_000_000)
        for i in range(files)
    ]
    keys = [f"{holding}/{tx}/{i}" for i in range(files)]
    facts = put_facts(tx, user, holding, f"run{n}", entries, keys, now)
    return [(user.encode(), fact) for fact in facts]


def write_topic(settings: Settings, topic: str, events: int, files: int) -> int:
    producer = bus.producer(settings, **{"linger.ms": 50, "batch.num.messages": 10000})
    written = 0
    n = 0
    while written < events:
        for key, event in transaction_events(n, files, settings.kafka.partitions):
            if written == events:
                break
            while True:
                try:
                    producer.produce(topic, key=key, value=encode(event))
                    break
                except BufferError:
                    producer.poll(0.1)
            written += 1
        n += 1
        producer.poll(0)
    if producer.flush(120):
        raise RuntimeError("the bench topic was not written")
    return written


def count_rows(engine: Engine, schema: str) -> dict[str, int]:
    copies = replay_tables(schema)
    with engine.connect() as conn:
        return {
            table.name: conn.execute(
                select(func.count()).select_from(copies[table.name])
            ).scalar_one()
            for table in CATALOG_TABLES
        }


Rows = list[tuple[str, list[str], list[tuple]]]


def take_replayed_rows(engine: Engine) -> Rows:
    """The replay's rows, read into memory; its tables are dropped, so that the
    database's clean-up of them (autovacuum) does not run during the COPYs."""
    source = replay_tables(REPLAY_SCHEMA)
    data: Rows = []
    with engine.connect() as conn:
        for table in CATALOG_TABLES:
            names = [c.name for c in table.c]
            rows = [tuple(r) for r in conn.execute(select(*source[table.name].c))]
            data.append((table.name, names, rows))
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {REPLAY_SCHEMA} CASCADE"))
    return data


def copy_same_rows(engine: Engine, data: Rows, bulk_load: bool = False) -> tuple[int, float]:
    """COPY the replay's rows into empty tables of the same shape; (rows, seconds). With
    ``bulk_load``, the tables' secondary indexes and foreign keys are built after."""
    fresh_tables(engine, "catalog", COPY_SCHEMA, bulk_load=bulk_load)
    raw = engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        started = time.perf_counter()
        with driver.cursor() as cursor:
            for name, names, rows in data:
                columns = ", ".join(f'"{n}"' for n in names)
                with cursor.copy(f'COPY {COPY_SCHEMA}."{name}" ({columns}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)
        driver.commit()
        if bulk_load:
            with engine.begin() as conn:
                fresh_load.complete(conn, existing_replay_tables(engine, COPY_SCHEMA))
        seconds = time.perf_counter() - started
    finally:
        raw.close()
    return sum(len(rows) for _n, _c, rows in data), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=1, help="files per sub-batch")
    parser.add_argument("--database", default="", help="PostgreSQL URL (default: the stack's)")
    args = parser.parse_args()
    settings = Settings()
    url = args.database or settings.postgres_url
    if not url.startswith("postgresql"):
        sys.exit("the replay bench needs PostgreSQL: start the stack or give --database")
    from projections.db import make_engine

    engine = make_engine(url)
    topic = f"bench.replay.{uuid.uuid4().hex[:8]}"
    admin = bus.admin(settings)
    admin.create_topics([NewTopic(topic, num_partitions=settings.kafka.partitions)])[topic].result()
    try:
        started = time.perf_counter()
        written = write_topic(settings, topic, args.events, args.files)
        print(
            f"wrote {written:,} catalog events to {topic} in {time.perf_counter() - started:.1f}s"
        )

        fresh_tables(engine, "catalog", REPLAY_SCHEMA)
        bucket = settings.s3.bucket
        replayed = Projection(
            "bench",
            (
                Part(
                    (topic,),
                    lambda conn, events: catalog.apply(conn, events, bucket),
                    catalog.KINDS,
                ),
            ),
        )
        from projections.replay import high_watermarks

        progress = replay_until(
            engine,
            settings,
            replayed,
            high_watermarks(settings, [topic]),
            lambda p: print(f"  {p.events:>10,} events  {p.rate:>9,.0f} events/s", flush=True),
            schema=REPLAY_SCHEMA,
        )
        rows = count_rows(engine, REPLAY_SCHEMA)
        total = sum(rows.values())
        replay_rate = total / progress.seconds
        print(
            f"replay: {progress.events:,} events -> {total:,} rows in {progress.seconds:.1f}s: "
            f"{progress.rate:,.0f} events/s, {replay_rate:,.0f} rows/s"
        )
        print("  rows: " + ", ".join(f"{name} {n:,}" for name, n in rows.items()))
        data = take_replayed_rows(engine)
        copied, seconds = copy_same_rows(engine, data)
        copy_rate = copied / seconds
        print(f"COPY:   {copied:,} rows in {seconds:.1f}s: {copy_rate:,.0f} rows/s")
        copied, seconds = copy_same_rows(engine, data, bulk_load=True)
        bulk_rate = copied / seconds
        print(
            f"COPY, then indexes and foreign keys: {copied:,} rows in {seconds:.1f}s: "
            f"{bulk_rate:,.0f} rows/s"
        )
        print(f"ratio replay/COPY: {replay_rate / copy_rate:.2f} (target >= 0.80)")
        print(f"ratio replay/(COPY, then indexes): {replay_rate / bulk_rate:.2f}")
    finally:
        with engine.begin() as conn:
            for schema in (REPLAY_SCHEMA, COPY_SCHEMA):
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()
        admin.delete_topics([topic])[topic].result()


if __name__ == "__main__":
    main()
