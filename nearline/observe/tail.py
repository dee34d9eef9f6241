"""Reading the end (or the start) of a topic for people: the ``nearline events tail``
command and the status page's recent dead letters. Records come back decoded into plain
JSON-ready values; bytes (paths, keys) are shown as text with non-UTF-8 bytes escaped
(``\\xff``), and a record that does not decode is shown with its reason, never dropped."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from events.codec import UndecodableRecord, decode_message
from nearline import bus
from nearline.settings import Settings

TAIL_GROUP_PREFIX = "nearline-tail-"


def readable(value: Any) -> Any:
    """``value`` with bytes turned into escaped text, recursively."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {readable(k): readable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [readable(v) for v in value]
    return value


def record_view(
    topic: str, partition: int, offset: int, key: bytes | None, value: bytes
) -> dict[str, Any]:
    """One record as a person reads it: where it is, its key, its type and its fields."""
    view: dict[str, Any] = {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": readable(key) if key is not None else None,
    }
    try:
        event = decode_message(value, topic=topic, partition=partition, offset=offset)
    except UndecodableRecord as error:
        return view | {"type": None, "undecodable": str(error), "value": readable(value)}
    fields = {f.name: readable(getattr(event, f.name)) for f in dataclasses.fields(event)}
    return view | {"type": event.schema_name, "event": fields}


def read(
    settings: Settings,
    topic: str,
    count: int | None = 10,
    from_beginning: bool = False,
    timeout: float = 10.0,
) -> list[dict[str, Any]]:
    """The last ``count`` records of ``topic`` (across partitions, oldest first), or its
    first ``count`` (all with None) with ``from_beginning``."""
    return list(_records(settings, topic, count, from_beginning, timeout))


def _records(
    settings: Settings, topic: str, count: int | None, from_beginning: bool, timeout: float
) -> Iterator[dict[str, Any]]:
    # A throwaway group that commits nothing: reading never disturbs a processor.
    consumer = bus.consumer(settings, f"{TAIL_GROUP_PREFIX}{uuid.uuid4().hex[:8]}")
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise ValueError(f"no topic {topic!r}")
        starts, ends = [], {}
        for p in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high <= low:
                continue
            start = low if from_beginning or count is None else max(low, high - count)
            starts.append(TopicPartition(topic, p, start if start > low else OFFSET_BEGINNING))
            ends[p] = high
        if not starts:
            return
        consumer.assign(starts)
        views: list[tuple[int, dict[str, Any]]] = []
        remaining = dict(ends)
        deadline = time.monotonic() + timeout
        limit = count if from_beginning and count is not None else None
        while remaining and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            p, offset = message.partition(), message.offset()
            if p is None or p not in remaining or offset is None or offset >= remaining[p]:
                continue
            timestamp = message.timestamp()[1]
            views.append(
                (timestamp, record_view(topic, p, offset, message.key(), message.value() or b""))
            )
            if offset + 1 >= remaining[p]:
                del remaining[p]
            if limit is not None and len(views) >= limit * len(ends):
                break
        views.sort(key=lambda v: (v[0], v[1]["partition"], v[1]["offset"]))
        chosen = [v for _t, v in views]
        if count is not None:
            chosen = chosen[:count] if from_beginning else chosen[-count:]
        yield from chosen
    finally:
        consumer.close()
