"""A request log that records into a list: the real request methods, no Kafka."""

from __future__ import annotations

import threading

from events.base import Event
from events.topics import REQUESTS
from nearline.requests import RequestLog


class RecordingLog(RequestLog):
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.timeout = 0
        self._lock = threading.Lock()

    def record(self, event: Event, topic: str = REQUESTS) -> None:
        self.events.append(event)

    def close(self) -> None:
        pass
