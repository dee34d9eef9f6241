"""Recording users' requests: each validated request becomes one event on
``nearline.requests``, keyed by user, and is acknowledged only once the log has it."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterable, Mapping

from confluent_kafka import KafkaError, KafkaException, Message

from events.base import Event, event_id_for
from events.codec import encode
from events.requests import PutRequested
from events.topics import REQUESTS
from nearline import bus
from nearline.settings import Settings


class RequestNotRecorded(RuntimeError):
    """The log did not take the request (the broker is unreachable); nothing happened."""


class RequestLog:
    """Writes request events; safe to share between threads."""

    def __init__(self, settings: Settings, timeout: float = 15.0) -> None:
        self.producer = bus.producer(settings)
        self.timeout = timeout
        self._lock = threading.Lock()

    def record(self, event: Event) -> None:
        """Append ``event`` to the requests topic and wait until the broker has it."""
        done = threading.Event()
        errors: list[KafkaError] = []

        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                errors.append(error)
            done.set()

        with self._lock:
            self.producer.produce(
                REQUESTS, key=event.user.encode(), value=encode(event), on_delivery=delivered
            )
        deadline = time.monotonic() + self.timeout
        while not done.is_set() and time.monotonic() < deadline:
            self.producer.poll(0.05)
        if errors or not done.is_set():
            reason = errors[0].str() if errors else "no answer from the broker"
            raise RequestNotRecorded(f"the request could not be recorded: {reason}")

    def put(
        self,
        *,
        user: str,
        group: str,
        paths: Iterable[str | bytes] = (),
        path_list_file: str | bytes | None = None,
        label: str | None = None,
        holding_id: int | None = None,
        tags: Mapping[str, str] | None = None,
        job_label: str | None = None,
        transaction_id: str | None = None,
    ) -> PutRequested:
        """Record a PUT; the work happens asynchronously. Returns the recorded event."""
        transaction_id = transaction_id or str(uuid.uuid4())
        event = PutRequested(
            event_id=event_id_for(transaction_id, "requested"),
            transaction_id=transaction_id,
            user=user,
            group=group,
            cause_id=None,
            occurred_at=int(time.time() * 1000),
            label=label,
            holding_id=holding_id,
            tags=dict(tags or {}),
            paths=[os.fsencode(p) for p in paths],
            path_list_file=os.fsencode(path_list_file) if path_list_file else None,
            job_label=job_label or transaction_id[:8],
            api_action="putlist" if path_list_file else "put",
        )
        self.record(event)
        return event

    def close(self) -> None:
        remaining = self.producer.flush(self.timeout)
        if remaining:
            raise KafkaException(f"{remaining} requests were not delivered")
