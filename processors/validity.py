"""Content no correct writer produces: a decodable record whose values are impossible
(a negative size, an empty transaction id, a sub-batch below zero). Such a record is
dead-lettered by the processor that meets it instead of being acted on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from events.base import Event

# Not mtime_ns: files dated before 1970 exist.
NON_NEGATIVE = ("holding_id", "sub_batch", "size", "max_files", "max_bytes")
POSITIVE = ("max_files", "max_bytes")
FILE_LISTS = ("files", "stored", "rejected", "failed", "refused")


def impossible(event: Event) -> str | None:
    """Why ``event`` cannot be acted on, or None when its content is plausible."""
    for name in ("event_id", "transaction_id", "user"):
        if not getattr(event, name, "x"):
            return f"{type(event).__name__} has an empty {name}"
    problem = _numbers(type(event).__name__, _fields(event))
    if problem:
        return problem
    for name in FILE_LISTS:
        items: Iterable[Any] = getattr(event, name, None) or ()
        for item in items:
            if isinstance(item, Mapping):
                problem = _numbers(f"{type(event).__name__}.{name}", item)
                if problem:
                    return problem
    return None


def _fields(event: Event) -> dict[str, Any]:
    return {name: getattr(event, name, None) for name in NON_NEGATIVE}


def _numbers(where: str, values: Mapping[str, Any]) -> str | None:
    for name in NON_NEGATIVE:
        value = values.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        if value < 0 or (name in POSITIVE and value < 1):
            return f"{where} has an impossible {name} {value}"
    return None
