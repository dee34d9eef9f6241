"""How the decider gets a partition's fold: its store's last checkpoint, then the facts
the log holds after it (D190).

A store that does not match the log (its last fact is not the log's fact at that
offset, or the log is shorter than the store) was made from another history, such as a
topic deleted and created again: it is emptied and the fold starts from the first fact.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from events.codec import UndecodableRecord, decode_message
from events.topics import CATALOG
from nearline import bus
from nearline.settings import Settings
from processors.catalog.state import CatalogState

log = logging.getLogger("nearline.catalog")

CHECKPOINT_ROWS = 50_000
"""Rows in memory beyond the totals at which the fold is saved (bounds its memory)."""
CHECKPOINT_SECONDS = 5.0
"""At most this long between a decision and the checkpoint that saves it."""


def store_path(settings: Settings, partition: int, topic: str = CATALOG) -> Path:
    return settings.home / "state" / f"{topic}-{partition}.sqlite"


def load(
    settings: Settings, partition: int, topic: str = CATALOG, until: int | None = None
) -> CatalogState:
    """Partition ``partition``'s fold, up to the end of the log as it is now (or up to
    the offset ``until``, for benches and tools)."""
    path = store_path(settings, partition, topic)
    state = CatalogState.open(path, partition, settings.kafka.partitions)
    consumer = bus.consumer(settings, group="nearline-catalog-rebuild")
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
        if not _matches(consumer, state, topic, low, high):
            log.warning("%s does not match the log: folding from the first fact", path)
            state.store.clear()
            state.store.close()
            state = CatalogState.open(path, partition, settings.kafka.partitions)
        started, saved = time.monotonic(), state.offset
        fold(consumer, state, topic, high if until is None else min(until, high))
        state.checkpoint()
        log.info(
            "catalog partition %d: %d facts after the checkpoint at %d folded in %.1fs",
            partition,
            state.offset - saved,
            saved,
            time.monotonic() - started,
        )
        return state
    except BaseException:
        state.store.close()
        raise
    finally:
        consumer.close()


def _matches(consumer: Consumer, state: CatalogState, topic: str, low: int, high: int) -> bool:
    if state.offset == 0:
        return True
    if state.offset > high:
        return False
    if state.last_event_id is None or state.offset - 1 < low:
        return True  # nothing to compare with: the record was undecodable or is gone
    consumer.assign([TopicPartition(topic, state.partition, state.offset - 1)])
    message = _next(consumer, topic, state.partition)
    try:
        event = decode_message(
            message.value() or b"", topic=topic, partition=state.partition, offset=state.offset - 1
        )
    except UndecodableRecord:
        return False
    return event.event_id == state.last_event_id


def fold(consumer: Consumer, state: CatalogState, topic: str, high: int, save: bool = True) -> None:
    """Fold the facts from ``state.offset`` up to ``high``, saving as memory fills
    (unless not ``save``: then all of it stays in memory)."""
    if state.offset >= high:
        return
    consumer.assign([TopicPartition(topic, state.partition, state.offset)])
    while state.offset < high:
        message = _next(consumer, topic, state.partition)
        offset = message.offset()
        assert offset is not None
        try:
            event = decode_message(
                message.value() or b"", topic=topic, partition=state.partition, offset=offset
            )
        except UndecodableRecord as error:
            log.error("catalog fold skips %s", error)
            state.offset, state.last_event_id = offset + 1, None
            continue
        state.apply(event)
        state.folded(offset, event.event_id)
        if save and state.unsaved() >= CHECKPOINT_ROWS:
            state.checkpoint()


def _next(consumer: Consumer, topic: str, partition: int):
    while True:
        message = consumer.poll(5)
        if message is None:
            raise RuntimeError(f"{topic} partition {partition} ended before its end offset")
        if not message.error() and message.offset() is not None:
            return message
