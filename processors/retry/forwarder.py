"""The retry forwarder's work: hold the records of ``nearline.retry`` until due, then send
each back to its topic with its attempt number (``processors.retry.schedule`` tells how
they get there). ``python -m processors.retry`` runs it through ``processors.runner``."""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from confluent_kafka import Consumer, Message, Producer, TopicPartition

from events.topics import RETRY
from nearline import bus
from nearline.observe import server
from processors.retry.schedule import ATTEMPT, NOT_BEFORE, TARGET, header

log = logging.getLogger("nearline.retry")

GROUP = "nearline-retry"


@dataclass(order=True)
class Due:
    not_before_ms: int
    sequence: int
    message: Message = field(compare=False)


class Forwarder:
    """Holds retry records until due and sends them back to their topic. Offsets are
    committed only below the oldest record not yet forwarded, so a crash forwards a few
    records again rather than losing one. ``run_once`` is one turn: it subscribes the
    first time, takes what arrived (as soon as a record comes, waiting at most a second
    or until the next record is due) and forwards what is due; closing delivers what
    was sent and leaves the group."""

    def __init__(
        self, consumer: Consumer, producer: Producer, health: server.Health = server.HEALTH
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self.health = health
        self.waiting: list[Due] = []
        self.sequence = itertools.count()
        self.subscribed = False
        self.forwarded = 0

    def run_once(self) -> float:
        """One turn; no pause before the next (``take`` waited already)."""
        if not self.subscribed:
            self.consumer.subscribe([RETRY], on_assign=self._ready, on_revoke=self._forget)
            self.subscribed = True
        # At the first record, not after the wait: a retry due sooner than the record
        # being waited for would otherwise be held up to a second (D237).
        for message in bus.take(self.consumer, 500, self._wait_s()):
            if message.error() is None:
                self._hold(message)
        self._forward_due()
        return 0.0

    def close(self) -> None:
        self.producer.flush(30)
        self.consumer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _ready(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        self.health.set(True, f"{len(partitions)} partitions assigned")

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
