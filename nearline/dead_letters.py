"""Reading the dead-letter topic and sending its records back where they came from.

A record is re-driven as its original key and bytes to its source topic: its event id
is unchanged, so a record re-driven twice (or re-driven after all) is acted on once.
A record that is still bad is dead-lettered again, at its new position.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from confluent_kafka import TopicPartition

from events.codec import UndecodableRecord, decode
from events.ops import RecordDeadLettered
from events.topics import DEAD_LETTER
from nearline import bus
from nearline.settings import Settings

REDRIVEN_FROM = "nearline-redriven-from"
"""Header naming the dead letter a re-driven record came from (its event id)."""


@dataclass(frozen=True)
class Letter:
    """One dead letter and where it sits on the dead-letter topic."""

    partition: int
    offset: int
    record: RecordDeadLettered

    @property
    def id(self) -> str:
        return self.record.event_id


def letters(settings: Settings, topic: str | None = None) -> Iterator[Letter]:
    """Every dead letter, oldest first per partition; only ``topic``'s with a topic."""
    consumer = bus.consumer(settings, group="nearline-admin-dlq")
    try:
        metadata = consumer.list_topics(DEAD_LETTER, timeout=10).topics[DEAD_LETTER]
        for partition in sorted(metadata.partitions):
            low, high = consumer.get_watermark_offsets(
                TopicPartition(DEAD_LETTER, partition), timeout=10
            )
            if high <= low:
                continue
            consumer.assign([TopicPartition(DEAD_LETTER, partition, low)])
            next_offset = low
            while next_offset < high:
                message = consumer.poll(5)
                if message is None:
                    break
                if message.error() or message.offset() is None:
                    continue
                offset = message.offset() or 0
                next_offset = offset + 1
                try:
                    record = decode(message.value() or b"")
                except UndecodableRecord:
                    continue  # nothing we could send back
                if isinstance(record, RecordDeadLettered) and (
                    topic is None or record.source_topic == topic
                ):
                    yield Letter(partition, offset, record)
    finally:
        consumer.close()


def redrive(settings: Settings, chosen: Iterable[Letter]) -> int:
    """Send each letter's original record back to its source topic; return how many."""
    producer = bus.producer(settings)
    count = 0
    for letter in chosen:
        record = letter.record
        producer.produce(
            record.source_topic,
            key=record.key,
            value=record.value,
            headers=[(REDRIVEN_FROM, letter.id.encode())],
        )
        count += 1
    remaining = producer.flush(30)
    if remaining:
        raise RuntimeError(f"{remaining} re-driven records were not delivered")
    return count
