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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import faust
from mode import CrashingSupervisor

from events.base import Event
from events.codec import UndecodableRecord, decode_message, encode
from events.ops import RecordDeadLettered
from events.topics import DEAD_LETTER
from nearline import bus
from nearline.observe import logs, metrics, server
from nearline.settings import Settings
from processors.runner import start_up
from processors.validity import impossible

log = logging.getLogger(__name__)

Outgoing = tuple[str, bytes, Event]
"""An event to send: its topic, its key and the event."""
Send = Callable[[Iterable[Outgoing]], Awaitable[None]]
"""How a worker's logic sends events: ``sender(app)`` in a process, a fake in a test."""


def now_ms() -> int:
    """The time events record: epoch milliseconds."""
    return int(time.time() * 1000)


def make_app(name: str, settings: Settings) -> faust.App:
    """A faust app whose consumer group is ``nearline-<name>``, with nearline's logging,
    and its metrics and health listener on ``metrics.port`` (when not 0): the start-up
    of every process (``processors.runner``)."""
    start_up(settings)
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
        # The process's own principal (its kind), whose ACLs allow only what it does.
        broker_credentials=credentials(settings),
        agent_supervisor=CrashingSupervisor,
        web_enabled=False,
        datadir=str(datadir),
        # The worker configures logging when it starts: nearline's format and filters.
        logging_config=logs.dict_config(settings, name),
    )
    observe(app, settings)
    return app


def credentials(settings: Settings) -> faust.SASLCredentials | None:
    """faust's login to Kafka: the same principal and password as the process's
    confluent-kafka clients (``nearline.bus``)."""
    kafka = bus.aiokafka_config(settings)
    if "sasl_mechanism" not in kafka:
        return None
    return faust.SASLCredentials(
        username=kafka["sasl_plain_username"],
        password=kafka["sasl_plain_password"],
        mechanism=kafka["sasl_mechanism"],
        ssl_context=kafka.get("ssl_context"),
    )


def observe(app: faust.App, settings: Settings) -> None:
    """Readiness follows the consumer group: ready once partitions are assigned, not
    ready while rebalancing or stopping. Lag is that of the app's own group."""
    health = server.HEALTH
    group = app.conf.id
    metrics.REGISTRY.register(metrics.LagCollector(settings, [group]))

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def assigned(_sender: Any, assigned: set, **_: Any) -> None:
        health.set(True, f"{len(assigned)} partitions assigned")

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def revoked(_sender: Any, revoked: set, **_: Any) -> None:
        health.set(False, "rebalancing")

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    def stopping(_sender: Any, **_: Any) -> None:
        health.set(False, "stopping")


async def decoded(
    stream: faust.Stream, app: faust.App, accepts: tuple[str, ...] = ("nearline.",)
) -> AsyncIterator[tuple[Event, Any]]:
    """The stream's events, decoded and plausible. An undecodable record, an event this
    processor does not take (``accepts``: prefixes of the schema names it reads, such
    as a family ``nearline.reports.``), or one with impossible content
    (``processors.validity``) goes to the dead-letter topic with its reason and
    position, and the stream goes on. While an event is handled, the log carries its
    transaction id; once handled, it is counted."""
    processor = app.conf.id.removeprefix("nearline-")
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
            logs.transaction_id.set(None)
            log.error("dead-lettering %s", error)
            metrics.EVENTS_FAILED.labels(processor, record.topic, "undecodable").inc()
            await dead_letter(app, error, record.value, record.key)
            continue
        if not event.schema_name.startswith(accepts):
            metrics.EVENTS_FAILED.labels(processor, record.topic, "unexpected").inc()
            await refuse(app, record, event, "unexpected", f"{event.schema_name} is not read here")
            continue
        problem = impossible(event)
        if problem is not None:
            metrics.EVENTS_FAILED.labels(processor, record.topic, "impossible").inc()
            await refuse(app, record, event, "impossible", problem)
            continue
        kind = event.schema_name.rsplit(".", 1)[-1]
        logs.transaction_id.set(event.transaction_id)
        metrics.STAGE_WAIT.labels(record.topic).observe(
            max(0.0, time.time() - event.occurred_at / 1000)
        )
        yield event, record
        metrics.EVENTS_PROCESSED.labels(processor, record.topic, kind).inc()
        logs.transaction_id.set(None)  # lines between events concern no transaction


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


def sender(app: faust.App) -> Send:
    """``send_all`` through ``app``."""

    async def send(outgoing: Iterable[Outgoing]) -> None:
        await send_all(app, outgoing)

    return send


async def send_all(app: faust.App, outgoing: Iterable[Outgoing]) -> list[Any]:
    """Send events and wait until the broker has every one: only then may the input's
    offset be committed. Returns where each landed (faust's ``RecordMetadata``)."""
    futures = [
        await app.topic(topic).send(key=key, value=encode(event)) for topic, key, event in outgoing
    ]
    return list(await asyncio.gather(*futures)) if futures else []
