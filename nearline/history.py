"""The history of a holding, a transaction or a path, read from the log: every event of
the requests, catalog and status topics that touched it, in order, with its time,
actor, cause and type.

Reads go to the partitions that can hold the answer: a user's partition of the
requests and catalog topics (keyed by user; a holding id names its partition too), and
each transaction's partition of the status topic (keyed by transaction). Only a path
asked for without a user scans every catalog partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from events.base import Event
from events.codec import UndecodableRecord, decode_message
from events.topics import CATALOG, REQUESTS, STATUS
from nearline import bus
from nearline.partitioning import partition_for
from nearline.schema_log import learn_writer_schemas
from nearline.settings import Settings

FILE_LISTS = ("files", "refused", "failed", "stored", "rejected")


@dataclass(frozen=True)
class Entry:
    """One event in a history."""

    occurred_at: int
    topic: str
    partition: int
    offset: int
    event: Event

    @property
    def event_type(self) -> str:
        return type(self.event).__name__


@dataclass(frozen=True)
class Query:
    holding_id: int | None = None
    transaction_id: str | None = None
    path: bytes | None = None
    user: str | None = None
    """When set, only this user's events, read from this user's partitions."""

    def __post_init__(self) -> None:
        if self.holding_id is None and self.transaction_id is None and self.path is None:
            raise ValueError("name a holding, a transaction or a path")


def read_partition(
    consumer: Consumer, topic: str, partition: int, key: bytes | None = None
) -> Iterator[tuple[int, Event]]:
    """Every decodable event of one partition up to its current end; with ``key``,
    only records with that key (others are not decoded)."""
    low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
    if high <= low:
        return
    consumer.assign([TopicPartition(topic, partition, low)])
    next_offset = low
    while next_offset < high:
        message = consumer.poll(5)
        if message is None:
            return
        offset = message.offset()
        if message.error() or offset is None:
            continue
        next_offset = offset + 1
        if key is not None and message.key() != key:
            continue
        try:
            event = decode_message(
                message.value() or b"", topic=topic, partition=partition, offset=offset
            )
        except UndecodableRecord:
            continue
        yield offset, event


def touches_path(event: Event, path: bytes) -> bool:
    for name in FILE_LISTS:
        for item in getattr(event, name, None) or ():
            if isinstance(item, dict) and item.get("path") == path:
                return True
    return path in (getattr(event, "paths", None) or ())


class History:
    """Reads histories with one consumer (never committing: a reader, not a member)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.partitions = settings.kafka.partitions
        self.consumer = bus.consumer(settings, group="nearline-history")
        learn_writer_schemas(settings)  # newer versions written since this code

    def close(self) -> None:
        self.consumer.close()

    def _read(self, topic: str, partitions: Iterable[int], key: bytes | None) -> Iterator[Entry]:
        for partition in sorted(set(partitions)):
            for offset, event in read_partition(self.consumer, topic, partition, key):
                yield Entry(event.occurred_at, topic, partition, offset, event)

    def _user_partitions(self, query: Query) -> list[int]:
        if query.user is not None:
            return [partition_for(query.user.encode(), self.partitions)]
        if query.holding_id is not None and query.holding_id > 0:
            # Holding ids are sequence * partitions + partition + 1 (docs/architecture.md).
            return [(query.holding_id - 1) % self.partitions]
        if query.transaction_id is not None:
            owner = self._owner_of(query.transaction_id)
            if owner is not None:
                return [partition_for(owner.encode(), self.partitions)]
        return list(range(self.partitions))

    def _owner_of(self, transaction_id: str) -> str | None:
        """The user of a transaction, from its partition of the status topic."""
        partition = partition_for(transaction_id.encode(), self.partitions)
        for entry in self._read(STATUS, [partition], transaction_id.encode()):
            if entry.event.transaction_id == transaction_id:
                return entry.event.user
        return None

    def find(self, query: Query) -> list[Entry]:
        """Every event that touched what ``query`` names, oldest first."""
        key = query.user.encode() if query.user is not None else None
        partitions = self._user_partitions(query)
        catalog = list(self._read(CATALOG, partitions, key))
        transactions = {query.transaction_id} if query.transaction_id else set()
        for entry in catalog:
            event = entry.event
            if query.holding_id is not None and getattr(event, "holding_id", None) == (
                query.holding_id
            ):
                transactions.add(event.transaction_id)
            if query.path is not None and touches_path(event, query.path):
                transactions.add(event.transaction_id)
        entries = [e for e in catalog if e.event.transaction_id in transactions]
        requests = self._read(REQUESTS, partitions, key)
        entries += [e for e in requests if e.event.transaction_id in transactions]
        status_partitions = [partition_for(tx.encode(), self.partitions) for tx in transactions]
        for entry in self._read(STATUS, status_partitions, None):
            if entry.event.transaction_id in transactions:
                entries.append(entry)
        if query.user is not None:
            entries = [e for e in entries if e.event.user == query.user]
        # Same millisecond: the request, then the facts, then the status they caused.
        rank = {REQUESTS: 0, CATALOG: 1, STATUS: 2}
        return sorted(entries, key=lambda e: (e.occurred_at, rank[e.topic], e.offset))


def history(settings: Settings, query: Query) -> list[Entry]:
    reader = History(settings)
    try:
        return reader.find(query)
    finally:
        reader.close()
