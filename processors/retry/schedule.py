"""Retries of system errors through the ``nearline.retry`` topic, instead of blocking a
partition while a service is down.

A processor that meets a system error (object store, tape endpoint unreachable) sends
the input record, byte for byte, to ``nearline.retry`` with headers naming its topic,
its attempt number and the time before which it must not come back, and moves on. The
retry forwarder (``python -m processors.retry``, ``processors.retry.forwarder``) sends
each record back to its topic when it is due, with its attempt number. The record keeps
its event id, so a record forwarded twice (after a forwarder crash) is acted on once.
Delays grow exponentially up to a maximum and stop after a number of attempts
(``settings.retry``); then the processor reports the error as the items' reason, as it
does at once for user errors.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from events.topics import RETRY

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
