"""A request log that records into a list: the real request methods, no Kafka."""

from __future__ import annotations

import threading

from events.base import Event
from nearline.requests import RequestLog
from nearline.settings import LimitSettings


class RecordingLog(RequestLog):
    """Checks each request as the real log does (limits, the API's own check), and keeps
    what it would have sent."""

    def __init__(self, limits: LimitSettings | None = None) -> None:
        self.events: list[Event] = []
        self.keys: list[str] = []
        self.timeout = 0
        self.limits = limits or LimitSettings()
        self.check = None
        self._lock = threading.Lock()

    def _send(self, event: Event, topic: str, value: bytes, key: str | None = None) -> None:
        self.events.append(event)
        self.keys.append(key if key is not None else event.user)

    def close(self) -> None:
        pass
