"""Fakes of what the wiring gives a worker's logic: a way to send, settings without an
environment."""

from __future__ import annotations

from collections.abc import Iterable

from events.base import Event
from nearline.settings import Settings


class Sent:
    """A ``Send`` that keeps what it was given, in order."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes, Event]] = []

    async def __call__(self, outgoing: Iterable[tuple[str, bytes, Event]]) -> None:
        self.items.extend(outgoing)

    def events(self, topic: str) -> list[Event]:
        return [event for t, _key, event in self.items if t == topic]


def settings(**update: object) -> Settings:
    """Settings made here, not read from an environment or a stack file."""
    return Settings.model_construct().model_copy(update=update)
