"""The one way a processor process makes its faust app, reads events and sends them.

Every agent runs with ``concurrency=1`` (faust-streaming issue #606: with more, offsets
are committed past in-flight messages) and at-least-once delivery: handlers are
idempotent, and processors scale by partitions and worker processes instead. An agent
that raises crashes the whole worker (``CrashingSupervisor``), so that its supervisor
restarts it and its state is rebuilt from the log, never half-applied.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import faust
from mode import CrashingSupervisor

from events.base import Event
from events.codec import UndecodableRecord, decode_message, encode
from events.topics import DEAD_LETTER
from nearline import bus
from nearline.settings import Settings

log = logging.getLogger(__name__)


def now_ms() -> int:
    """The time events record: epoch milliseconds."""
    return int(time.time() * 1000)


def make_app(name: str, settings: Settings) -> faust.App:
    """A faust app whose consumer group is ``nearline-<name>``."""
    bus.prepare(settings)
    datadir = settings.home / "processors" / name
    datadir.mkdir(parents=True, exist_ok=True)
    broker = bus.processor_broker_config(settings)
    app = faust.App(
        f"nearline-{name}",
        broker=broker["broker"],
        store="memory://",
        # Topics are declared and created by nearline itself (events.topics).
        topic_allow_declare=False,
        topic_disable_leader=True,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # A killed worker's partitions move on after this, not faust's default minute.
        broker_session_timeout=settings.kafka.session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.kafka.session_timeout_s / 10),
        producer_max_request_size=16 * 1024 * 1024,
        agent_supervisor=CrashingSupervisor,
        web_enabled=False,
        datadir=str(datadir),
    )
    return app


async def decoded(stream: faust.Stream, app: faust.App) -> AsyncIterator[tuple[Event, Any]]:
    """The stream's events, decoded; an undecodable record goes to the dead-letter topic
    with its reason and position, and the stream goes on."""
    async for message in stream.events():
        record = message.message
        try:
            event = decode_message(
                record.value or b"",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            )
        except UndecodableRecord as error:
            log.error("dead-lettering %s", error)
            await dead_letter(app, error, record.value, record.key)
            continue
        yield event, record


async def dead_letter(
    app: faust.App, error: UndecodableRecord, value: bytes | None, key: bytes | None
) -> None:
    from events.ops import RecordDeadLettered

    letter = RecordDeadLettered.of(error, value or b"", key)
    source = (error.topic or "").encode()
    future = await app.topic(DEAD_LETTER).send(key=source, value=encode(letter))
    await future


async def send_all(app: faust.App, outgoing: Iterable[tuple[str, bytes, Event]]) -> None:
    """Send events and wait until the broker has every one: only then may the input's
    offset be committed."""
    futures = [
        await app.topic(topic).send(key=key, value=encode(event)) for topic, key, event in outgoing
    ]
    if futures:
        await asyncio.gather(*futures)
