"""Event ids are deterministic and unambiguous; events are frozen, slotted and keyword-only."""

from __future__ import annotations

import dataclasses
import uuid
from typing import ClassVar

import pytest

from events.base import (
    EVENT_ID_NAMESPACE,
    Event,
    event_id_for,
    event_type,
    registered_event_class,
)
from events.requests import PutRequested
from tests.unit.events.helpers import typical_put


def test_event_id_is_deterministic_uuid5():
    first = event_id_for("put", "tx-1", "/data/a.nc")
    assert first == event_id_for("put", "tx-1", "/data/a.nc")
    assert uuid.UUID(first).version == 5
    assert first != event_id_for("put", "tx-2", "/data/a.nc")


def test_event_id_is_standard_uuid5_of_the_length_framed_parts():
    assert event_id_for("ab", "c") == str(uuid.uuid5(EVENT_ID_NAMESPACE, "2:ab1:c"))


def test_event_id_parts_cannot_run_into_each_other():
    assert event_id_for("a:b", "c") != event_id_for("a", "b:c")
    assert event_id_for("a", "bc") != event_id_for("ab", "c")
    assert event_id_for("1:a") != event_id_for("a")
    assert event_id_for("", "x") != event_id_for("x", "")


def test_event_id_accepts_paths_decoded_with_surrogateescape():
    raw = b"/data/\xff.nc".decode("utf-8", "surrogateescape")
    assert event_id_for(raw) != event_id_for("/data/\ufffd.nc")


def test_event_id_needs_a_part():
    with pytest.raises(ValueError):
        event_id_for()


def test_events_are_frozen_slotted_and_keyword_only():
    event = typical_put()
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.label = "other"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
    with pytest.raises(TypeError):
        PutRequested("id", "tx")  # type: ignore[call-arg]


def test_event_classes_register_under_their_schema_name():
    assert registered_event_class("nearline.requests.PutRequested") is PutRequested


def test_a_schema_name_has_one_class():
    @event_type
    class Once(Event):
        schema_name: ClassVar[str] = "nearline.testing.Once"

    with pytest.raises(TypeError, match="already"):

        @event_type
        class Twice(Event):
            schema_name: ClassVar[str] = "nearline.testing.Once"


def test_event_type_needs_a_schema_name():
    with pytest.raises(TypeError, match="schema_name"):

        @event_type
        class Nameless(Event):
            pass
