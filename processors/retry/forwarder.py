"""Retries of system errors through the ``nearline.retry`` topic, instead of blocking a
partition while a service is down.

A processor that meets a system error (object store, tape endpoint unreachable) sends
the input record, byte for byte, to ``nearline.retry`` with headers naming its topic,
its attempt number and the time before which it must not come back, and moves on. The
retry forwarder (``python -m processors.retry``) sends each record back to its topic
when it is due, with its attempt number. The record keeps its event id, so a record
forwarded twice (after a forwarder crash) is acted on once. Delays grow exponentially up
to a maximum and stop after a number of attempts (``settings.retry``); then the
processor reports the error as the items' reason, as it does at once for user errors.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import signal
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Message, TopicPartition

from events.topics import RETRY
from nearline import bus
from nearline.observe import logs, server
from nearline.settings import Settings, get_settings

log = logging.getLogger("nearline.retry")

TARGET = "nearline-retry-topic"
ATTEMPT = "nearline-retry-attempt"
NOT_BEFORE = "nearline-retry-not-before"
REASON = "nearline-retry-reason"


Headers = Iterable[tuple[str, Any]] | Mapping[str, Any] | None


def header(headers: Headers, name: str) -> str:
    """A header's value as text ("" when absent), from either form clients use."""
    if not headers:
        return ""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in pairs:
        if key == name and value is not None:
            return value.decode() if isinstance(value, bytes) else str(value)
    return ""


def attempt_of(record: Any) -> int:
    """How many times this record was retried already (0 for a first delivery)."""
    value = header(getattr(record, "headers", None), ATTEMPT)
    return int(value) if value.isdigit() else 0


def retry_headers(topic: str, attempt: int, delay_s: float, reason: str) -> list[tuple[str, bytes]]:
    """The headers of a record sent to the retry topic."""
    not_before = int((time.time() + delay_s) * 1000)
    return [
        (TARGET, topic.encode()),
        (ATTEMPT, str(attempt).encode()),
        (NOT_BEFORE, str(not_before).encode()),
        # Reasons come from our own error descriptions: no credentials in them.
        (REASON, reason[:500].encode()),
    ]


async def schedule_retry(app: Any, record: Any, attempt: int, delay_s: float, reason: str) -> None:
    """Send a faust input record to the retry topic, to come back after ``delay_s``."""
    future = await app.topic(RETRY).send(
        key=record.key,
        value=record.value,
        headers=retry_headers(record.topic, attempt, delay_s, reason),
    )
    await future


@dataclass(order=True)
class Due:
    not_before_ms: int
    sequence: int
    message: Message = field(compare=False)


class Forwarder:
    """Holds retry records until due and sends them back to their topic. Offsets are
    committed only below the oldest record not yet forwarded, so a crash forwards a few
    records again rather than losing one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.consumer = bus.consumer(settings, "nearline-retry")
        self.producer = bus.producer(settings)
        self.waiting: list[Due] = []
        self.sequence = itertools.count()
        self.stopping = False
        self.forwarded = 0

    def run(self) -> None:
        bus.prepare(self.settings)
        self.consumer.subscribe([RETRY], on_assign=self._ready, on_revoke=self._forget)
        try:
            while not self.stopping:
                for message in self.consumer.consume(500, timeout=self._wait_s()):
                    if message.error() is None:
                        self._hold(message)
                self._forward_due()
        finally:
            self.producer.flush(30)
            self.consumer.close()

    def _ready(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        server.HEALTH.set(True, f"{len(partitions)} partitions assigned")

    def _forget(self, _consumer: Any, _partitions: list[TopicPartition]) -> None:
        # Another forwarder takes these from their committed offsets.
        self.waiting.clear()

    def _wait_s(self) -> float:
        if not self.waiting:
            return 1.0
        return max(0.05, min(1.0, self.waiting[0].not_before_ms / 1000 - time.time()))

    def _hold(self, message: Message) -> None:
        headers = message.headers()
        due = header(headers, NOT_BEFORE)
        if not header(headers, TARGET):
            log.error("retry record without a target topic at offset %s: dropped", message.offset())
            return
        not_before = int(due) if due.isdigit() else 0
        heapq.heappush(self.waiting, Due(not_before, next(self.sequence), message))

    def _forward_due(self) -> None:
        now_ms = int(time.time() * 1000)
        sent = False
        while self.waiting and self.waiting[0].not_before_ms <= now_ms:
            message = heapq.heappop(self.waiting).message
            headers = message.headers() or []
            target = header(headers, TARGET)
            attempt = header(headers, ATTEMPT)
            self.producer.produce(
                target,
                key=message.key(),
                value=message.value(),
                headers=[(ATTEMPT, attempt.encode())],
            )
            log.info("retry %s of a %s record forwarded", attempt, target)
            self.forwarded += 1
            sent = True
        if sent:
            if self.producer.flush(30):
                raise RuntimeError("forwarded retries were not delivered")
            self._commit()

    def _commit(self) -> None:
        """Commit each partition up to its oldest record still waiting."""
        oldest: dict[tuple[str, int], int] = {}
        for due in self.waiting:
            key = (due.message.topic() or RETRY, due.message.partition() or 0)
            offset = due.message.offset() or 0
            oldest[key] = min(oldest.get(key, offset), offset)
        positions = self.consumer.position(self.consumer.assignment())
        offsets = [
            TopicPartition(tp.topic, tp.partition, oldest.get((tp.topic, tp.partition), tp.offset))
            for tp in positions
            if tp.offset >= 0
        ]
        if offsets:
            self.consumer.commit(offsets=offsets, asynchronous=False)


def main() -> None:
    settings = get_settings()
    logs.setup(settings, "retry")
    server.serve(settings)
    forwarder = Forwarder(settings)

    def stop(_signum: int, _frame: object) -> None:
        forwarder.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    forwarder.run()


if __name__ == "__main__":
    main()
