"""Runs projections: reads their topics in poll batches and applies each batch and its
Kafka positions in one database transaction, so a crash never applies a record twice
or skips one. Offsets are also committed to Kafka, only so that Kafka's own tools show
the projection's lag."""

from __future__ import annotations

import logging
import signal
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter

from confluent_kafka import Consumer, Message, TopicPartition
from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DBAPIError

from events import codec
from events.base import Event
from events.codec import UndecodableRecord
from nearline import bus
from nearline.observe import metrics
from nearline.observe.server import HEALTH
from nearline.settings import Settings
from projections import tables as t
from projections.writes import upsert

log = logging.getLogger(__name__)

Apply = Callable[[Connection, Sequence[Event]], None]
Record = tuple[str, Event]
"""An event and the topic it was read from."""


@dataclass(frozen=True)
class Part:
    """An applier and the topics whose events it takes. An event counts for what it is
    only on its own topic: a catalog fact written onto the requests topic is no catalog
    fact, so the catalog's applier never sees it."""

    topics: tuple[str, ...]
    apply: Apply
    kinds: frozenset[str] | None = None
    """Schema names of the events ``apply`` acts on (None: any). Records of other known
    kinds are not decoded, as ``apply`` would pass over them."""


@dataclass(frozen=True)
class Projection:
    name: str
    parts: tuple[Part, ...]

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(topic for part in self.parts for topic in part.topics))

    def kinds_of(self, topic: str) -> frozenset[str] | None:
        """The kinds of event some part takes from ``topic`` (None: any)."""
        wanted: set[str] = set()
        for part in self.parts:
            if topic in part.topics:
                if part.kinds is None:
                    return None
                wanted |= part.kinds
        return frozenset(wanted)

    def apply(self, conn: Connection, records: Sequence[Record]) -> None:
        """Each part applies, in order, the events of its own topics."""
        for part in self.parts:
            mine = [event for topic, event in records if topic in part.topics]
            if mine:
                part.apply(conn, mine)


def stored_positions(engine: Engine, projection: str) -> dict[tuple[str, int], int]:
    with engine.connect() as conn:
        rows = conn.execute(select(t.positions).where(t.positions.c.projection == projection))
        return {(r.topic, r.partition): r.next_offset for r in rows}


class ProjectionRunner:
    """Keeps one projection up to date with its topics until stopped."""

    def __init__(
        self,
        projection: Projection,
        engine: Engine,
        settings: Settings,
        batch_size: int | None = None,
    ) -> None:
        self.projection = projection
        self.engine = engine
        self.settings = settings
        self.batch_size = batch_size or settings.catalog.batch_size
        self.stopping = threading.Event()
        self.applied = 0
        self.failures = 0
        self.consumer: Consumer | None = None

    @property
    def group(self) -> str:
        return f"nearline-projection-{self.projection.name}"

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # The database, not Kafka, knows how far this projection got.
        known = stored_positions(self.engine, self.projection.name)
        for tp in partitions:
            tp.offset = known.get((tp.topic, tp.partition), 0)
        consumer.assign(partitions)
        HEALTH.set(True, f"{len(partitions)} partitions assigned")

    def run(self) -> None:
        consumer = bus.consumer(self.settings, self.group)
        self.consumer = consumer
        consumer.subscribe(list(self.projection.topics), on_assign=self._on_assign)
        try:
            while not self.stopping.is_set():
                messages = bus.take(consumer, self.batch_size, 0.5)
                if not messages:
                    continue
                try:
                    self.apply_batch(messages)
                except DBAPIError as error:
                    self._rewind(consumer, messages, error)
                    continue
                self.failures = 0
                consumer.commit(asynchronous=True)
        finally:
            HEALTH.set(False, "stopping")
            consumer.close()  # leaves the group at once: the status page shows it down

    def _rewind(self, consumer: Consumer, messages: Sequence[Message], error: Exception) -> None:
        """The database refused the batch (down, or locked by a replay's swap): nothing
        of it was committed, so read it again after a growing pause."""
        firsts: dict[tuple[str, int], int] = {}
        for message in messages:
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            if topic is not None and partition is not None and offset is not None:
                firsts.setdefault((topic, partition), offset)
        for (topic, partition), offset in firsts.items():
            consumer.seek(TopicPartition(topic, partition, offset))
        self.failures += 1
        delay = self.settings.retry.delay_s(self.failures)
        log.warning("database error, batch retried in %.1fs: %s", delay, error)
        self.stopping.wait(delay)

    def apply_batch(self, messages: Sequence[Message]) -> None:
        self.apply_decoded(*decode_batch(messages, self.projection))

    def apply_decoded(self, records: Sequence[Record], ends: dict[tuple[str, int], int]) -> None:
        """Apply decoded records and the positions after them in one transaction."""
        with self.engine.begin() as conn:
            self.projection.apply(conn, records)
            upsert(
                conn,
                t.positions,
                [
                    {
                        "projection": self.projection.name,
                        "topic": topic,
                        "partition": partition,
                        "next_offset": offset,
                    }
                    for (topic, partition), offset in ends.items()
                ],
                keys=("projection", "topic", "partition"),
            )
        self.applied += len(records)
        processor = f"projection-{self.projection.name}"
        # Counted per kind, not per record: a label lookup per record cost as much as
        # writing the row.
        topics, events = map(itemgetter(0), records), map(itemgetter(1), records)
        kinds: Counter[tuple[str, type[Event]]] = Counter(
            zip(topics, map(type, events), strict=True)
        )
        for (topic, cls), count in kinds.items():
            kind = cls.schema_name.rsplit(".", 1)[-1]
            metrics.EVENTS_PROCESSED.labels(processor, topic, kind).inc(count)

    def stop(self) -> None:
        self.stopping.set()


def decode_batch(
    messages: Sequence[Message], projection: Projection | None = None
) -> tuple[list[Record], dict[tuple[str, int], int]]:
    """A poll batch's records (those ``projection`` takes, if given), and the position
    after it in each partition."""
    records: list[Record] = []
    ends: dict[tuple[str, int], int] = {}
    kinds = _Kinds(projection)
    for message in messages:
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        if message.error() or topic is None or partition is None or offset is None:
            log.warning("consume error: %s", message.error())
            continue
        ends[(topic, partition)] = offset + 1
        event = decode_record(message, topic, partition, offset, kinds[topic])
        if event is not None:
            records.append((topic, event))
    return records, ends


class _Kinds(dict[str, frozenset[str] | None]):
    """The kinds a projection takes, by topic, worked out on first use (all kinds when
    no projection is given)."""

    def __init__(self, projection: Projection | None) -> None:
        super().__init__()
        self.projection = projection

    def __missing__(self, topic: str) -> frozenset[str] | None:
        kinds = self[topic] = self.projection.kinds_of(topic) if self.projection else None
        return kinds


def decode_record(
    message: Message,
    topic: str,
    partition: int,
    offset: int,
    kinds: frozenset[str] | None = None,
) -> Event | None:
    """The message's event; None for an undecodable record, which is skipped, and for
    one of a known kind not in ``kinds`` (if given), which is not decoded."""
    try:
        event = codec.default_codec().decode_kind(message.value() or b"", kinds)
    except UndecodableRecord as error:
        # Undecodable records are dead-lettered by the processors that meet them
        # first; a projection skips them and goes on.
        log.error("skipping undecodable record: %s", error.located(topic, partition, offset))
        return None
    return event


def run_until_signalled(runners: Sequence[ProjectionRunner]) -> None:
    """Run several projections in threads until SIGTERM or SIGINT."""
    threads = [threading.Thread(target=r.run, name=r.projection.name) for r in runners]

    def stop(_signum: int, _frame: object) -> None:
        for runner in runners:
            runner.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
