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
from events.ops import RecordDeadLettered
from events.topics import DEAD_LETTER
from nearline import bus
from nearline.settings import Settings
from processors.validity import impossible

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


async def decoded(
    stream: faust.Stream, app: faust.App, accepts: tuple[str, ...] = ("nearline.",)
) -> AsyncIterator[tuple[Event, Any]]:
    """The stream's events, decoded and plausible. An undecodable record, an event this
    processor does not take (``accepts``: prefixes of the schema names it reads, such
    as a family ``nearline.reports.``), or one with impossible content
    (``processors.validity``) goes to the dead-letter topic with its reason and
    position, and the stream goes on."""
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
        if not event.schema_name.startswith(accepts):
            await refuse(app, record, event, "unexpected", f"{event.schema_name} is not read here")
            continue
        problem = impossible(event)
        if problem is not None:
            await refuse(app, record, event, "impossible", problem)
            continue
        yield event, record


async def dead_letter(
    app: faust.App, error: UndecodableRecord, value: bytes | None, key: bytes | None
) -> None:
    letter = RecordDeadLettered.of(error, value or b"", key)
    await _send_letter(app, letter)


async def refuse(app: faust.App, record: Any, event: Event, kind: str, reason: str) -> None:
    """Dead-letter a decodable record that cannot be acted on, with ``reason``."""
    place = f"{record.topic}[{record.partition}]@{record.offset}"
    log.error("dead-lettering %s: %s", place, reason)
    letter = RecordDeadLettered.refused(
        record.topic,
        record.partition,
        record.offset,
        kind=kind,
        reason=f"{place}: {reason}",
        value=record.value or b"",
        key=record.key,
        about=event,
    )
    await _send_letter(app, letter)


async def _send_letter(app: faust.App, letter: RecordDeadLettered) -> None:
    future = await app.topic(DEAD_LETTER).send(
        key=letter.source_topic.encode(), value=encode(letter)
    )
    await future


async def send_all(app: faust.App, outgoing: Iterable[tuple[str, bytes, Event]]) -> None:
    """Send events and wait until the broker has every one: only then may the input's
    offset be committed."""
    futures = [
        await app.topic(topic).send(key=key, value=encode(event)) for topic, key, event in outgoing
    ]
    if futures:
        await asyncio.gather(*futures)
