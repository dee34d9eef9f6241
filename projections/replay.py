"""Rebuilds a projection from offset zero of its topics into fresh tables beside the
live ones, compares the two, and can swap the rebuilt rows in.

The fresh tables are the live tables' declarations in a second namespace: the schema
``nearline_replay`` in PostgreSQL, or a database file attached under that name in SQLite
(``<catalog file>.replay``). The projection code is the live code, run on a connection
whose ``schema_translate_map`` sends its unqualified tables there.

A replay reads each partition up to the live runner's stored position, so the two sides
hold the same records when compared or swapped; if the live runner moves on meanwhile,
the replay catches up again first.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from confluent_kafka import TopicPartition
from psycopg.errors import DeadlockDetected
from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Table,
    create_engine,
    delete,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError

from nearline import bus
from nearline.settings import Settings
from projections import fresh_load, parallel
from projections import tables as t
from projections.db import make_engine
from projections.definitions import LIVE, owned_tables, projection
from projections.parallel import Progress
from projections.runner import (
    Projection,
    ProjectionRunner,
    Record,
    decode_record,
    stored_positions,
)
from projections.writes import FRESH, upsert

SCHEMA = "nearline_replay"
DEADLOCK_ATTEMPTS = 5
BATCH = 20_000
"""Records per transaction of a replay: bigger than the live runner's poll batches, as
nothing waits on the replay's rows until it is done."""
COLLECT_EVERY = 10
"""Batches a replay applies between runs of the cyclic garbage collector."""
VOLATILE: Mapping[str, frozenset[str]] = {
    # A surrogate key drawn from a sequence: gaps left by rolled-back inserts make it
    # differ between two correct projections.
    "status_transactions": frozenset({"id"}),
    # Eviction's recency hint, moved forward by GETs. A GET with groupall records it in
    # the reader's partition, about files of another user's partition, so a replay that
    # meets the GET before the files keeps the older time. Where files are is unaffected.
    "locations": frozenset({"access_time"}),
}
Positions = dict[tuple[str, int], int]
Batch = tuple[list[Record], Positions, int]
"""Decoded records, the positions after them, and how many records were read (those
not decoded included)."""


class ReplayError(RuntimeError):
    """The replay cannot run here (say, an in-memory SQLite catalog)."""


class LiveMovedOn(RuntimeError):
    """The live runner applied more records while a swap waited: catch up and retry."""


def open_catalog(url: str) -> Engine:
    """An engine on the catalog database that also sees the replay's namespace."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            raise ReplayError("an in-memory SQLite catalog cannot be replayed beside itself")
        replay_file = f"{database}.replay"

        def attach(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute(f"ATTACH DATABASE ? AS {SCHEMA}", (replay_file,))

        event.listen(engine, "connect", attach)
    return engine


def replay_tables(schema: str = SCHEMA) -> dict[str, Table]:
    """The projected tables declared again in the replay namespace."""
    copy = MetaData()
    return {
        name: table.to_metadata(copy, schema=schema) for name, table in t.metadata.tables.items()
    }


def fresh_tables(engine: Engine, which: str, schema: str = SCHEMA, bulk_load: bool = True) -> None:
    """Drop and create the replay's tables for ``which`` and its positions table. With
    ``bulk_load``, their secondary indexes and foreign keys wait for the end of the
    replay's bulk (``fresh_load``)."""
    copies = replay_tables(schema)
    wanted = [copies[table.name] for table in owned_tables(which)] + [copies[t.positions.name]]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        for table in reversed(wanted):
            table.drop(conn, checkfirst=True)
        for table in wanted:
            table.create(conn)
        if bulk_load:
            fresh_load.defer(conn, wanted)


def existing_replay_tables(engine: Engine, schema: str = SCHEMA) -> list[Table]:
    """The replay's tables that are there, parents before children."""
    copies = replay_tables(schema)
    with engine.connect() as conn:
        there = set(inspect(conn).get_table_names(schema=schema))
    return [copies[t_.name] for t_ in t.metadata.sorted_tables if t_.name in there]


def _writer(engine: Engine, schema: str) -> tuple[Engine, Callable[[], None]]:
    """The engine a replay writes through, and how to let it go. On PostgreSQL, one of
    its own whose connections never switch to server-side prepared statements: a
    generic plan made while a table was small (a sequential scan) would stay for the
    whole replay."""
    if engine.dialect.name != "postgresql":
        return in_replay(engine, schema), lambda: None
    own = create_engine(engine.url, pool_size=1, connect_args={"prepare_threshold": None})
    return in_replay(own, schema), own.dispose


def in_replay(engine: Engine, schema: str = SCHEMA) -> Engine:
    """The same engine, writing the unqualified projected tables into the replay's."""
    return engine.execution_options(schema_translate_map={None: schema}, **{FRESH: True})


def partitions_of(settings: Settings, topics: Iterable[str]) -> list[tuple[str, int]]:
    client = bus.admin(settings)
    metadata = client.list_topics(timeout=10)
    return [(name, p) for name in topics for p in sorted(metadata.topics[name].partitions)]


def high_watermarks(settings: Settings, topics: Iterable[str]) -> Positions:
    consumer = bus.consumer(settings, group="nearline-replay-watermarks")
    try:
        return {
            (name, p): consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1]
            for name, p in partitions_of(settings, topics)
        }
    finally:
        consumer.close()


def live_targets(engine: Engine, settings: Settings, topics: tuple[str, ...]) -> Positions:
    """Where the live runner stands on ``topics``: the replay stops there. With no live
    positions at all, the ends of the topics."""
    with engine.connect() as conn:
        return _live_targets_in(conn, settings, topics)


def _live_targets_in(conn: Connection, settings: Settings, topics: tuple[str, ...]) -> Positions:
    live = {k: v for k, v in stored_positions_in(conn, t.positions).items() if k[0] in topics}
    if not live:
        return high_watermarks(settings, topics)
    return {tp: live.get(tp, 0) for tp in partitions_of(settings, topics)}


def _read_batches(
    settings: Settings,
    replayed: Projection,
    done: Positions,
    pending: Positions,
    batch_size: int,
    batches: queue.Queue[Batch | None],
    failure: list[BaseException],
    halt: threading.Event,
) -> None:
    """Consume from ``done`` up to ``pending`` (exclusive), decoded, in poll batches,
    until done or ``halt``. Records of kinds the projection passes over are not decoded."""
    consumer = bus.consumer(settings, group=f"nearline-replay-{uuid.uuid4().hex[:8]}")
    kinds = {topic: replayed.kinds_of(topic) for topic, _p in pending}
    try:
        consumer.assign([TopicPartition(tp[0], tp[1], done.get(tp, 0)) for tp in pending])
        while pending and not halt.is_set():
            records: list[Record] = []
            ends: Positions = {}
            read = 0
            for message in consumer.consume(batch_size, timeout=1.0):
                if message.error():
                    continue
                topic, partition, offset = message.topic(), message.partition(), message.offset()
                key = (topic or "", partition or 0)
                end = pending.get(key)
                if end is None or offset is None:
                    continue
                if offset < end:
                    # Decoded here, not in a second pass over the batch.
                    ends[key] = offset + 1
                    read += 1
                    event = decode_record(message, key[0], key[1], offset, kinds[key[0]])
                    if event is not None:
                        records.append((key[0], event))
                if offset + 1 >= end:
                    del pending[key]
                    consumer.pause([TopicPartition(*key)])
            if ends:
                batches.put((records, ends, read))
    except BaseException as error:  # handed to the applying thread
        failure.append(error)
    finally:
        consumer.close()
        batches.put(None)


def replay_until(
    engine: Engine,
    settings: Settings,
    replayed: Projection,
    targets: Positions,
    report: Callable[[Progress], None] = lambda _p: None,
    batch_size: int | None = None,
    schema: str = SCHEMA,
    workers: int | None = None,
) -> Progress:
    """Apply records from the replay's own positions (zero when fresh) up to
    ``targets``, in batches of up to ``batch_size`` (default ``BATCH``), each with its
    positions in one transaction; then build what the bulk load deferred. On
    PostgreSQL, ``workers`` processes (default ``catalog.replay_workers``) share the
    partitions: a partition's facts stay in order, and facts of different partitions
    commute (D195)."""
    count = settings.catalog.replay_workers if workers is None else workers
    if engine.dialect.name != "postgresql":
        count = 1
    groups = [g for g in (dict(sorted(targets.items())[i::count]) for i in range(count)) if g]
    if len(groups) > 1:
        parts = [
            partial(_replay_part, engine, settings, replayed, group, batch_size, schema)
            for group in groups
        ]
        progress = parallel.run(parts, report)
    else:
        progress = _replay_part(engine, settings, replayed, targets, batch_size, schema, report)
    started = time.monotonic()
    with in_replay(engine, schema).begin() as conn:
        fresh_load.complete(conn, existing_replay_tables(engine, schema))
    progress.seconds += time.monotonic() - started  # part of the replay's time
    return progress


def _replay_part(
    engine: Engine,
    settings: Settings,
    replayed: Projection,
    targets: Positions,
    batch_size: int | None,
    schema: str,
    report: Callable[[Progress], None],
) -> Progress:
    target_engine, release = _writer(engine, schema)
    try:
        tables = existing_replay_tables(target_engine, schema)
        return _apply_until(target_engine, settings, replayed, targets, report, batch_size, tables)
    finally:
        release()


def _apply_until(
    target_engine: Engine,
    settings: Settings,
    replayed: Projection,
    targets: Positions,
    report: Callable[[Progress], None],
    batch_size: int | None,
    tables: list[Table],
) -> Progress:
    runner = ProjectionRunner(replayed, target_engine, settings, batch_size or BATCH)
    done = stored_positions(target_engine, replayed.name)
    pending = {tp: end for tp, end in targets.items() if done.get(tp, 0) < end}
    progress = Progress()
    if not pending:
        return progress
    analyzed = False
    batches: queue.Queue[Batch | None] = queue.Queue(maxsize=2)
    failure: list[BaseException] = []
    halt = threading.Event()
    reader = threading.Thread(
        target=_read_batches,
        args=(settings, replayed, done, pending, runner.batch_size, batches, failure, halt),
        name="replay-reader",
        daemon=True,
    )
    # Reading and decoding the next batch overlaps with writing this one.
    reader.start()
    started = last_report = time.monotonic()
    collecting = gc.isenabled()
    # The cyclic collector, left to itself, went through every object of the batches in
    # flight again and again: a third of the CPU of decoding and building rows. A
    # batch's objects hold no cycles and are freed as it is dropped; the collector runs
    # on the young generations every few batches instead (each run goes through the
    # batches still queued, so not after every one).
    gc.disable()
    try:
        applied = 0
        while (batch := batches.get()) is not None:
            records, ends, read = batch
            del batch
            _apply_retrying(runner, (records, ends))
            del records
            applied += 1
            if applied % COLLECT_EVERY == 0:
                gc.collect(1)
            progress.events += read
            if not analyzed and progress.events >= fresh_load.ANALYZE_AFTER:
                # Sizes for the planner while they are cheap to sample; autovacuum's
                # analyze follows the tables as they grow (a manual one of big tables cost
                # seconds, and two workers' ANALYZEs wait for each other).
                with target_engine.begin() as conn:
                    fresh_load.analyze(conn, tables)
                analyzed = True
            now = time.monotonic()
            progress.seconds = now - started
            if now - last_report >= 1.0:
                report(progress)
                last_report = now
    finally:
        if collecting:
            gc.enable()
        # On an error here, let the reader stop: it may be waiting to hand a batch over.
        halt.set()
        while reader.is_alive():
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.1)
        reader.join()
    if failure:
        raise failure[0]
    progress.seconds = time.monotonic() - started
    return progress


def _apply_retrying(runner: ProjectionRunner, batch: tuple[list[Record], Positions]) -> None:
    """Apply a batch; again if it lost a deadlock to another worker (two partitions
    with one transaction id), which rolled all of it back."""
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            runner.apply_decoded(*batch)
            return
        except DBAPIError as error:
            if not isinstance(error.orig, DeadlockDetected) or attempt == DEADLOCK_ATTEMPTS:
                raise
            time.sleep(0.1 * attempt)


@dataclass(frozen=True)
class TableComparison:
    table: str
    live_rows: int
    replay_rows: int
    live_hash: str
    replay_hash: str

    @property
    def same(self) -> bool:
        return self.live_rows == self.replay_rows and self.live_hash == self.replay_hash


def _value(value: Any) -> Any:
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return value


def content_hash(conn: Connection, table: Table) -> tuple[int, str]:
    """Row count and an order-independent hash of a table's rows: the sum, modulo
    2**128, of a digest of each row's non-volatile columns."""
    skip = VOLATILE.get(table.name, frozenset())
    columns = [c for c in table.c if c.name not in skip]
    total = count = 0
    result = conn.execution_options(yield_per=10_000).execute(select(*columns))
    for row in result:
        digest = hashlib.blake2b(repr(tuple(_value(v) for v in row)).encode(), digest_size=16)
        total = (total + int.from_bytes(digest.digest(), "big")) % (1 << 128)
        count += 1
    return count, f"{total:032x}"


def compare(engine: Engine, which: str) -> list[TableComparison]:
    """Each owned table, live against replay."""
    with engine.connect() as conn:
        return _compared(which, conn, conn)


def _compared(which: str, live: Connection, rebuilt: Connection) -> list[TableComparison]:
    """Each owned table, as ``live`` reads the live one against as ``rebuilt`` reads the
    replay's."""
    copies = replay_tables()
    rows = []
    for table in owned_tables(which):
        live_count, live_hash = content_hash(live, table)
        replay_count, replay_hash = content_hash(rebuilt, copies[table.name])
        rows.append(TableComparison(table.name, live_count, replay_count, live_hash, replay_hash))
    return rows


def compare_with_live(
    engine: Engine, settings: Settings, which: str, report: Callable[[Progress], None]
) -> list[TableComparison]:
    """Catch the replay up to where the live runner stands, and compare the two there.

    On PostgreSQL the live side is read in one snapshot taken before the catch-up: the
    live runner commits its rows with its positions, so the snapshot holds the rows of
    the positions it holds, however far the runner moves on meanwhile (a runner working
    through a backlog never stood still long enough for ``converge``). SQLite has no
    snapshot shared with the replay's writer: there the two are compared once the live
    runner stands still."""
    if engine.dialect.name != "postgresql":
        return converge(engine, settings, which, lambda: compare(engine, which), report)
    replayed = projection(which, settings.s3.bucket)
    copies = replay_tables()
    live = engine.connect().execution_options(isolation_level="REPEATABLE READ")
    with live, live.begin():
        targets = _live_targets_in(live, settings, replayed.topics)
        replay_until(engine, settings, replayed, targets, report)
        with engine.connect() as rebuilt:
            reached = stored_positions_in(rebuilt, copies[t.positions.name])
            if any(reached.get(tp, 0) != offset for tp, offset in targets.items()):
                raise ReplayError("the replay went past the live snapshot: replay again")
            return _compared(which, live, rebuilt)


def _lock_live(conn: Connection, which: str) -> None:
    """Keep the live runner out until the swap commits (it retries its batch)."""
    if conn.dialect.name == "postgresql":
        names = ", ".join(f'"{table.name}"' for table in (*owned_tables(which), t.positions))
        conn.execute(text(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE"))
    else:
        # The first write takes SQLite's one write lock for the whole transaction.
        conn.execute(
            t.positions.update().where(t.positions.c.projection == "").values(next_offset=0)
        )


def swap(
    engine: Engine,
    which: str,
    topics: tuple[str, ...],
    catch_up: Callable[[Positions], Any] | None = None,
) -> Positions:
    """Replace the live rows of ``which`` with the replay's, and the live positions of
    its topics with the replay's, in one transaction. When the live runner is past the
    replay's positions, PostgreSQL's replay catches up to them with ``catch_up`` while
    the runner waits on the lock; otherwise ``LiveMovedOn`` is raised."""
    copies = replay_tables()
    with engine.begin() as conn:
        _lock_live(conn, which)
        live = {k: v for k, v in stored_positions_in(conn, t.positions).items() if k[0] in topics}

        def caught_up() -> Positions | None:
            replayed = stored_positions_in(conn, copies[t.positions.name])
            if any(replayed.get(tp, 0) != offset for tp, offset in live.items()):
                return None
            return replayed

        replayed = caught_up()
        # SQLite's transaction read the replay's file before the catch-up: it would not
        # see the rows the catch-up commits.
        if replayed is None and catch_up is not None and conn.dialect.name == "postgresql":
            catch_up(live)
            replayed = caught_up()
        if replayed is None:
            raise LiveMovedOn("the live projection moved on during the replay")
        for table in reversed(owned_tables(which)):
            conn.execute(delete(table))
        for table in owned_tables(which):
            names = [c.name for c in table.c]
            source = copies[table.name]
            conn.execute(table.insert().from_select(names, select(*(source.c[n] for n in names))))
        if conn.dialect.name == "postgresql" and t.status_transactions in owned_tables(which):
            # Copied ids bypass the sequence: move it past them.
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('status_transactions', 'id'), "
                    "coalesce((SELECT max(id) FROM status_transactions), 0) + 1, false)"
                )
            )
        upsert(
            conn,
            t.positions,
            [
                {"projection": LIVE, "topic": topic, "partition": p, "next_offset": offset}
                for (topic, p), offset in replayed.items()
            ],
            keys=("projection", "topic", "partition"),
        )
        return replayed


def stored_positions_in(conn: Connection, table: Table) -> Positions:
    rows = conn.execute(select(table).where(table.c.projection == LIVE))
    return {(r.topic, r.partition): r.next_offset for r in rows}


def converge(
    engine: Engine,
    settings: Settings,
    which: str,
    action: Callable[[], Any],
    report: Callable[[Progress], None],
    attempts: int = 10,
    settled: bool = True,
) -> Any:
    """Run ``action`` once the replay stands where the live runner stands; if the live
    runner moved on meanwhile (or the swap lost a lock race), catch up and try again.
    With ``settled``, the live positions must also be unchanged after ``action``."""
    replayed = projection(which, settings.s3.bucket)
    topics = replayed.topics
    for _ in range(attempts):
        replay_until(engine, settings, replayed, live_targets(engine, settings, topics), report)
        before = live_targets(engine, settings, topics)
        try:
            result = action()
        except (LiveMovedOn, DBAPIError):
            time.sleep(0.5)
            continue
        if not settled or live_targets(engine, settings, topics) == before:
            return result
    raise ReplayError(f"the live projection kept moving; gave up after {attempts} attempts")
