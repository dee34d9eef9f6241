"""A schema evolves by a new version file: data written with v1 is read as v2 when v2 is
compatible, and the compatibility check refuses a v2 that is not."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import ClassVar

import pytest
from fastavro import schemaless_writer

from events import compat
from events.base import Event
from events.codec import Codec, UndecodableRecord
from events.registry import SchemaRegistry
from tests.unit.events.helpers import envelope_values, write_schema

SIZE = {"name": "size", "type": "long", "doc": "Bytes."}
NOTE = {"name": "note", "type": ["null", "string"], "default": None, "doc": "A remark."}
KIND = {"name": "kind", "type": "string", "default": "file", "doc": "What it is."}


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample(Event):
    """The test event as of v2."""

    schema_name: ClassVar[str] = "nearline.testing.Sample"
    size: int
    note: str | None
    kind: str


def written_with_v1(registry: SchemaRegistry, size: int) -> bytes:
    v1 = registry.history(Sample.schema_name)[0]
    body = BytesIO()
    schemaless_writer(body, v1.parsed, {**envelope_values(), "size": size})
    return v1.header + body.getvalue()


@pytest.fixture
def compatible(tmp_path: Path) -> Path:
    write_schema(tmp_path, "testing", "Sample", 1, [SIZE])
    write_schema(tmp_path, "testing", "Sample", 2, [SIZE, NOTE, KIND])
    return tmp_path


@pytest.fixture
def incompatible(tmp_path: Path) -> Path:
    write_schema(tmp_path, "testing", "Sample", 1, [SIZE])
    without_default = {k: v for k, v in KIND.items() if k != "default"}
    write_schema(tmp_path, "testing", "Sample", 2, [SIZE, NOTE, without_default])
    return tmp_path


@pytest.mark.parametrize("compiled", [True, False])
def test_v1_data_is_read_as_v2_with_the_defaults(compatible, compiled):
    registry = SchemaRegistry(compatible, classes=[Sample])
    codec = Codec(registry, compiled=compiled)
    event = codec.decode(written_with_v1(registry, 42))
    assert event == Sample(**envelope_values(), size=42, note=None, kind="file")
    # New events are written with v2, and read back without resolution.
    data = codec.encode(event)
    assert data[:10] == registry.latest(Sample.schema_name).header
    assert codec.decode(data) == event


def test_compat_accepts_a_compatible_new_version(compatible):
    assert compat.check(compatible, update=True, classes=[Sample]) == []
    assert set(compat.read_lock(compatible / compat.LOCK_NAME)) == {
        "testing/Sample.v1.avsc",
        "testing/Sample.v2.avsc",
    }
    assert compat.check(compatible, classes=[Sample]) == []


def test_v1_data_cannot_be_read_as_an_incompatible_v2(incompatible):
    registry = SchemaRegistry(incompatible, classes=[Sample])
    with pytest.raises(UndecodableRecord) as caught:
        Codec(registry).decode(written_with_v1(registry, 42))
    assert caught.value.reason == "invalid"
    assert "kind" in str(caught.value)


def test_compat_refuses_an_incompatible_new_version(incompatible):
    problems = compat.check(incompatible, update=True, classes=[Sample])
    assert any("v2 cannot read v1 data" in p and "kind" in p for p in problems), problems
    assert not (incompatible / compat.LOCK_NAME).exists()  # nothing locked while broken
