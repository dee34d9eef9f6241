"""The base of every nearline event, the table of event classes, and deterministic ids.

Events are small immutable records named in the past tense. Each concrete class mirrors
the latest version of its Avro schema field for field, in order; nested records are plain
dicts typed with ``TypedDict`` (cheap on the hot path), never nested dataclasses.

Events do not validate their values: the log is history, and an event that was accepted
once must decode forever, even after the rules change. Requests are validated by the API
before their event is written.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar, dataclass_transform

EVENT_ID_NAMESPACE = uuid.UUID("2690a762-2ca9-5fc1-8671-d87eb98ab877")
"""uuid5(NAMESPACE_URL, "https://nearline.invalid/events"); fixed forever, because every
stored event id depends on it."""

ENVELOPE = ("event_id", "transaction_id", "user", "group", "cause_id", "occurred_at")
"""The fields every event has, first and in this order, in its class and its schema."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """A fact recorded on a Kafka topic. Subclasses are declared with ``@event_type``."""

    schema_name: ClassVar[str]
    """Full Avro name of the schema, e.g. ``nearline.requests.PutRequested``."""

    event_id: str
    """Deterministic UUIDv5 (``event_id_for``): replaying a step yields the same id, so
    consumers can drop duplicates."""
    transaction_id: str
    """The user request this event belongs to; every event it causes carries it on."""
    user: str
    """The user on whose behalf the event happened."""
    group: str
    """The user's group, which owns the holding."""
    cause_id: str | None
    """``event_id`` of the event that caused this one; None for user requests."""
    occurred_at: int
    """Epoch milliseconds; a plain int so that decoding stays fast."""


_EVENT_CLASSES: dict[str, type[Event]] = {}

E = TypeVar("E", bound=Event)


@dataclass_transform(kw_only_default=True, frozen_default=True)
def event_type(cls: type[E]) -> type[E]:
    """Make ``cls`` a frozen, slotted, keyword-only dataclass and register it under its
    ``schema_name`` so that the codec can build it from a decoded record."""
    name = cls.__dict__.get("schema_name")
    if not isinstance(name, str):
        raise TypeError(f"{cls.__qualname__} needs a class variable schema_name")
    # Registering after dataclass(): with slots=True it returns a new class.
    made = dataclass(frozen=True, slots=True, kw_only=True)(cls)
    names = tuple(f.name for f in fields(made))
    if names[: len(ENVELOPE)] != ENVELOPE:
        raise TypeError(f"{cls.__qualname__} must start with the envelope fields {ENVELOPE}")
    known = _EVENT_CLASSES.get(name)
    if known is not None and _identity(known) != _identity(made):
        raise TypeError(f"{name} is already the schema of {_identity(known)}")
    _EVENT_CLASSES[name] = made
    return made


def _identity(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def registered_event_class(name: str) -> type[Event] | None:
    """The class registered for the full schema name ``name``, if any."""
    return _EVENT_CLASSES.get(name)


def registered_event_classes() -> dict[str, type[Event]]:
    """Every registered event class by full schema name (a copy)."""
    return dict(_EVENT_CLASSES)


def event_id_for(*parts: str) -> str:
    """A deterministic event id: uuid5 under ``EVENT_ID_NAMESPACE`` of ``parts``.

    Call it with what identifies the step, e.g. ``event_id_for("put", transaction_id)``,
    so that a retried or replayed step produces the same id. Each part is framed by its
    byte length rather than joined with a separator, since any separator could occur in a
    part (paths may contain anything); ("a:b", "c") and ("a", "b:c") never collide.
    Lone surrogates (paths decoded with surrogateescape) are kept, not rejected.
    """
    if not parts:
        raise ValueError("event_id_for needs at least one part")
    framed = b"".join(_framed(part) for part in parts)
    # Exactly what uuid.uuid5 does with a bytes name (Python 3.12+ accepts those).
    digest = hashlib.sha1(EVENT_ID_NAMESPACE.bytes + framed, usedforsecurity=False).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


def caused_by(cause: Event, step: str) -> dict[str, Any]:
    """The envelope of what a worker reports about ``cause``, a unit of work: the same
    transaction, user and group, ``cause`` as its cause, the time now, and an id from the
    transaction and ``step``, so that a redelivered unit reports under the same id."""
    return {
        "event_id": event_id_for(cause.transaction_id, step),
        "transaction_id": cause.transaction_id,
        "user": cause.user,
        "group": cause.group,
        "cause_id": cause.event_id,
        "occurred_at": int(time.time() * 1000),
    }


def _framed(part: str) -> bytes:
    data = part.encode("utf-8", "surrogatepass")
    return b"%d:%b" % (len(data), data)
