"""What a decision sends: an event, to a topic, under a key."""

from __future__ import annotations

from dataclasses import dataclass

from events.base import Event


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: bytes
    event: Event
