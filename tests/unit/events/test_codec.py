"""Events survive encoding; bad bytes raise UndecodableRecord naming where they were."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import ClassVar

import pytest

from events.base import Event
from events.codec import Codec, UndecodableRecord, decode, decode_message, encode
from events.registry import SchemaRegistry, default_registry
from events.samples import sample_records
from tests.unit.events.helpers import envelope_values, typical_put, write_schema

FAST, FASTAVRO = Codec(), Codec(compiled=False)
CODECS = pytest.mark.parametrize("codec", [FAST, FASTAVRO], ids=["compiled", "fastavro"])


def every_sample_event() -> list[Event]:
    """Events of every class, built from its latest schema's samples."""
    registry = default_registry()
    events = []
    for name in registry.names():
        cls = registry.event_class(name)
        events += [cls(**record) for record in sample_records(registry.latest(name).parsed)]
    return events


@pytest.mark.parametrize(
    "event", [typical_put(), *every_sample_event()], ids=lambda e: type(e).__name__
)
def test_every_event_class_round_trips_with_the_latest_schema(event):
    data = encode(event)
    assert data[:10] == default_registry().latest(event.schema_name).header
    assert decode(data) == event
    # The generated fast path and fastavro write the same bytes and read the same events.
    assert FASTAVRO.encode(event) == data
    assert FASTAVRO.decode(data) == event


def test_bytearray_and_memoryview_decode_too():
    data = encode(typical_put())
    assert decode(bytearray(data)) == decode(memoryview(data)) == typical_put()  # type: ignore[arg-type]


def test_decoded_events_are_of_their_class_with_plain_values():
    event = decode(encode(typical_put()))
    assert type(event) is type(typical_put())
    assert type(event.occurred_at) is int
    assert event.paths[2] == b"/gws/\xff-raw.nc"


def reason_and_message(codec: Codec, data: bytes) -> tuple[str, str]:
    with pytest.raises(UndecodableRecord) as caught:
        codec.decode_message(data, topic="nearline.requests", partition=3, offset=1234)
    error = caught.value
    assert (error.topic, error.partition, error.offset) == ("nearline.requests", 3, 1234)
    assert str(error).startswith("nearline.requests[3]@1234: ")
    return error.reason, str(error)


@CODECS
def test_random_bytes_are_not_avro(codec):
    noise = random.Random(7).randbytes(64)
    assert reason_and_message(codec, noise)[0] == "not-avro"


@CODECS
@pytest.mark.parametrize("data", [None, b"", b"\xc3", b"\xc3\x01\x00\x01", b"not avro at all"])
def test_missing_marker_or_short_header_is_not_avro(codec, data):
    assert reason_and_message(codec, data)[0] == "not-avro"


@CODECS
def test_unknown_fingerprint_is_named_in_hex(codec):
    good = encode(typical_put())
    reason, message = reason_and_message(codec, b"\xc3\x01" + bytes(8) + good[10:])
    assert reason == "unknown-fingerprint"
    assert "unknown schema fingerprint 0000000000000000" in message


@CODECS
def test_every_truncation_is_truncated(codec):
    good = encode(typical_put())
    for cut in range(10, len(good)):
        reason, message = reason_and_message(codec, good[:cut])
        assert reason == "truncated", (cut, message)
        assert "PutRequested v1" in message


@CODECS
def test_trailing_garbage_is_corrupt(codec):
    reason, message = reason_and_message(codec, encode(typical_put()) + b"\x00")
    assert reason == "corrupt"
    assert "1 bytes after the record" in message


@CODECS
def test_a_bad_union_branch_or_bad_utf8_is_corrupt(codec):
    good = encode(typical_put())
    cause_at = 10 + sum(1 + len(s) for s in ("x" * 36, "x" * 36, "alice", "climate"))
    assert good[cause_at] == 0  # the null branch of cause_id
    assert reason_and_message(codec, good[:cause_at] + b"\x08" + good[cause_at + 1 :])[0] == (
        "corrupt"
    )
    user_at = 10 + 2 * 37 + 1
    assert good[user_at : user_at + 5] == b"alice"
    bad_utf8 = good[:user_at] + b"\xff" + good[user_at + 1 :]
    assert reason_and_message(codec, bad_utf8)[0] == "corrupt"


def test_mutated_records_decode_or_raise_undecodable_record_and_both_paths_agree():
    good = [encode(typical_put(n)) for n in range(3)]
    rng = random.Random(42)
    for _ in range(3000):
        data = bytearray(rng.choice(good))
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(10, len(data))] = rng.randrange(256)
        results: list[Event | str] = []
        for codec in (FAST, FASTAVRO):
            try:
                results.append(codec.decode(bytes(data)))
            except UndecodableRecord as error:
                results.append(error.reason)
        if all(isinstance(r, Event) for r in results):
            assert results[0] == results[1]


def test_mutated_records_of_every_event_class_decode_alike_or_are_undecodable():
    good = [encode(event) for event in every_sample_event()]
    rng = random.Random(11)
    decoded = 0
    for _ in range(4000):
        data = bytearray(rng.choice(good))
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(10, len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            del data[rng.randrange(10, len(data) + 1) :]
        results: list[Event | str] = []
        for codec in (FAST, FASTAVRO):
            try:
                results.append(codec.decode(bytes(data)))
            except UndecodableRecord as error:
                results.append(error.reason)
        if all(isinstance(r, Event) for r in results):
            assert results[0] == results[1]
            decoded += 1
    assert decoded > 100  # the mutations also hit values that stay decodable


def test_decoded_events_behave_as_constructed_ones():
    event = typical_put()
    decoded = decode(encode(event))
    assert decoded == event
    assert repr(decoded) == repr(event)
    with pytest.raises(TypeError, match="unhashable"):  # as the original: tags is a dict
        hash(decoded)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded.user = "mallory"  # type: ignore[misc]
    assert not hasattr(decoded, "__dict__")


def test_module_decode_message_names_the_location():
    with pytest.raises(UndecodableRecord, match=r"^nearline.requests\[0\]@7: not an Avro"):
        decode_message(b"nope", topic="nearline.requests", partition=0, offset=7)
    event = typical_put()
    assert decode_message(encode(event), topic="t", partition=0, offset=0) == event


@dataclass(frozen=True, slots=True, kw_only=True)
class Measured(Event):
    """A test event whose class refuses negative sizes."""

    schema_name: ClassVar[str] = "nearline.testing.Measured"
    size: int

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError("size must not be negative")


@pytest.fixture
def measured_registry(tmp_path) -> SchemaRegistry:
    write_schema(
        tmp_path, "testing", "Measured", 1, [{"name": "size", "type": "long", "doc": "Bytes."}]
    )
    return SchemaRegistry(tmp_path, classes=[Measured])


@pytest.mark.parametrize("compiled", [True, False])
def test_values_the_class_rejects_are_invalid(measured_registry, compiled):
    codec = Codec(measured_registry, compiled=compiled)
    good = codec.encode(Measured(**envelope_values(), size=5))
    assert codec.decode(good) == Measured(**envelope_values(), size=5)
    negative = good[:-1] + b"\x01"  # zigzag -1 as the last field
    with pytest.raises(UndecodableRecord, match="size must not be negative") as caught:
        codec.decode(negative)
    assert caught.value.reason == "invalid"


def test_a_class_that_does_not_mirror_its_schema_is_a_programming_error(tmp_path):
    write_schema(
        tmp_path, "testing", "Measured", 1, [{"name": "bytes", "type": "long", "doc": "Bytes."}]
    )
    codec = Codec(SchemaRegistry(tmp_path, classes=[Measured]))
    with pytest.raises(TypeError, match="must mirror the latest schema"):
        codec.encode(Measured(**envelope_values(), size=5))
