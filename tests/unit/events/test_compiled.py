"""The generated fast path writes exactly fastavro's bytes and reads exactly its values,
for every type it compiles; it refuses what it does not compile and never loops on
corrupt counts."""

from __future__ import annotations

import dataclasses
import random
from io import BytesIO
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from events.avro_longs import read_long, write_long
from events.compiled import Rejected, Unsupported, compile_decoder, compile_encoder
from events.samples import sample_records

HEADER = b"\xc3\x01" + bytes(8)


def parsed(schema: dict[str, Any]) -> dict[str, Any]:
    """fastavro's parsed form of a record schema, with its own name table."""
    result = parse_schema(schema, named_schemas={})
    assert isinstance(result, dict)
    return result


def one_field(field_type: Any, name: str = "x") -> dict[str, Any]:
    """A record schema with a single field."""
    return parsed({"type": "record", "name": "R", "fields": [{"name": name, "type": field_type}]})


FILE = {
    "type": "record",
    "name": "File",
    "fields": [
        {"name": "path", "type": "bytes"},
        {"name": "size", "type": ["null", "long"]},
        {"name": "state", "type": "State"},
    ],
}
RICH = parsed(
    {
        "type": "record",
        "name": "Rich",
        "namespace": "nearline.testing",
        "fields": [
            {"name": "flag", "type": "boolean"},
            {"name": "small", "type": "int"},
            {"name": "big", "type": "long"},
            {"name": "ratio", "type": "float"},
            {"name": "precise", "type": "double"},
            {"name": "blob", "type": "bytes"},
            {"name": "text", "type": "string"},
            {"name": "nothing", "type": "null"},
            {"name": "digest", "type": {"type": "fixed", "name": "Digest", "size": 4}},
            {
                "name": "state",
                "type": {
                    "type": "enum",
                    "name": "State",
                    "symbols": ["NEW", "DONE", "FAILED", "GONE", "LOST"],
                },
            },
            {"name": "files", "type": {"type": "array", "items": FILE}},
            {"name": "by_name", "type": {"type": "map", "values": "File"}},
            {
                "name": "matrix",
                "type": {"type": "array", "items": {"type": "array", "items": "double"}},
            },
            {
                "name": "groups",
                "type": {"type": "map", "values": {"type": "array", "items": "string"}},
            },
            {"name": "last", "type": ["string", "null"]},
            {"name": "checksum", "type": ["null", "Digest"]},
            {"name": "nested", "type": ["null", "File"]},
        ],
    },
)


def fastavro_bytes(schema: dict[str, Any], record: Any) -> bytes:
    out = BytesIO()
    schemaless_writer(out, schema, record)
    return HEADER + out.getvalue()


def never(record: Any) -> bytes:
    raise AssertionError("the fast path fell back")


def test_samples_cover_every_enum_symbol_and_union_branch():
    samples = sample_records(RICH)
    assert len(samples) == 5
    assert {s["state"] for s in samples} == {"NEW", "DONE", "FAILED", "GONE", "LOST"}
    assert {s["last"] is None for s in samples} == {True, False}
    assert {s["nested"] is None for s in samples} == {True, False}
    assert sample_records(RICH) == samples  # deterministic


def test_encoder_writes_fastavros_bytes_for_every_type():
    encode = compile_encoder(RICH, HEADER, never, access="item")
    for record in sample_records(RICH, 12):
        assert encode(record) == fastavro_bytes(RICH, record)


def test_decoder_reads_fastavros_values_for_every_type():
    decode = compile_decoder(RICH, dict)
    for record in sample_records(RICH, 12):
        data = fastavro_bytes(RICH, record)
        assert decode(data) == schemaless_reader(BytesIO(data[10:]), RICH, None)


def test_decoder_reads_blocks_with_byte_sizes_as_other_writers_write_them():
    schema = one_field({"type": "array", "items": "long"}, "xs")
    # Two blocks: a count of -2 followed by the block's size in bytes, then 1 item.
    body = write_long(-2) + write_long(2) + write_long(5) + write_long(6)
    body += write_long(1) + write_long(7) + write_long(0)
    assert compile_decoder(schema, dict)(HEADER + body) == {"xs": [5, 6, 7]}


def test_encoder_falls_back_to_fastavro_for_what_it_does_not_take():
    encode = compile_encoder(RICH, HEADER, lambda r: fastavro_bytes(RICH, r), access="item")
    record = sample_records(RICH)[1]
    record["nested"] = {"path": b"/x", "state": "NEW"}  # no "size": fastavro writes null
    assert encode(record) == fastavro_bytes(RICH, record)
    record["text"] = 12
    with pytest.raises((TypeError, ValueError, AttributeError)):
        encode(record)


@pytest.mark.parametrize("value", [0, 1, -1, 63, -64, 64, 300, 2**31, -(2**63), 2**63 - 1])
def test_longs_round_trip(value):
    data = write_long(value)
    assert read_long(data, 0) == (value, len(data))


def test_longs_beyond_64_bits_are_refused():
    with pytest.raises(OverflowError):
        write_long(2**63)
    with pytest.raises(ValueError, match="longer than 10 bytes"):
        read_long(b"\xff" * 11 + b"\x00", 0)


@pytest.mark.parametrize(
    ("field_type", "encoder_too"),
    [
        (["null", "string", "long"], True),
        (["string", "long"], True),
        ({"type": "long", "logicalType": "timestamp-millis"}, True),
        ({"type": "array", "items": "null"}, False),  # only reading it could loop
    ],
)
def test_unsupported_types_are_refused_so_that_fastavro_handles_them(field_type, encoder_too):
    schema = one_field(field_type)
    with pytest.raises(Unsupported):
        compile_decoder(schema, dict)
    if encoder_too:
        with pytest.raises(Unsupported):
            compile_encoder(schema, HEADER, never)


def test_recursive_types_are_refused():
    schema = parsed(
        {"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["null", "Node"]}]}
    )
    with pytest.raises(Unsupported, match="recursive"):
        compile_decoder(schema, dict)


def test_field_names_that_are_not_identifiers_are_refused():
    with pytest.raises(Unsupported, match="identifier"):
        compile_decoder(one_field("long", "from"), dict)


def test_a_huge_count_fails_fast_instead_of_looping():
    decode = compile_decoder(one_field({"type": "array", "items": "long"}), dict)
    with pytest.raises(EOFError):
        decode(HEADER + write_long(2**62) + b"\x00")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (write_long(-3), ValueError),  # negative length
        (b"\x02", EOFError),  # length 1, no byte
    ],
)
def test_bad_lengths(body, error):
    with pytest.raises(error):
        compile_decoder(one_field("bytes"), dict)(HEADER + body)


def test_boolean_bytes_other_than_0_and_1_are_corrupt():
    with pytest.raises(ValueError, match="boolean"):
        compile_decoder(one_field("boolean"), dict)(HEADER + b"\x02")


def spec_long(n: int) -> bytes:
    """An Avro long as the spec words it: zigzag, then 7 bits a byte, low bits first."""
    z = (n << 1) ^ (n >> 63)
    out = []
    while z >= 0x80:
        out.append(z & 0x7F | 0x80)
        z >>= 7
    return bytes([*out, z])


# Both sides of every power of two, both signs, the extremes and a timestamp.
EDGE_LONGS = sorted(
    {
        v
        for k in range(64)
        for v in (2**k - 1, 2**k, 2**k + 1, -(2**k) - 1, -(2**k), -(2**k) + 1)
        if -(2**63) <= v < 2**63
    }
    | {1_700_000_000_000}
)


def test_write_long_writes_the_spec_varint_of_every_size():
    rng = random.Random(3)
    spread = [rng.randrange(-(2**63), 2**63) >> rng.randrange(64) for _ in range(20_000)]
    for value in EDGE_LONGS + spread:
        assert write_long(value) == spec_long(value), value
    assert {len(write_long(v)) for v in EDGE_LONGS} == set(range(1, 11))


def test_generated_decoders_read_longs_of_every_size():
    decode = compile_decoder(one_field("long"), dict)
    for value in EDGE_LONGS:
        assert decode(HEADER + spec_long(value)) == {"x": value}, value


def test_generated_decoders_read_padded_varints_as_read_long_does():
    decode = compile_decoder(one_field("long"), dict)
    for padded in (b"\x80\x00", b"\x83\x80\x80\x00", b"\xff" * 9 + b"\x01"):
        assert decode(HEADER + padded) == {"x": read_long(padded, 0)[0]}


def test_varints_beyond_64_bits_are_corrupt_and_cut_ones_truncated():
    decode = compile_decoder(one_field("long"), dict)
    for beyond in (b"\xff" * 10 + b"\x00", b"\xff" * 9 + b"\x02"):
        with pytest.raises(ValueError, match="beyond 64 bits"):
            decode(HEADER + beyond)
        with pytest.raises(ValueError, match=r"beyond 64 bits|longer than 10 bytes"):
            read_long(beyond, 0)
    timestamp = write_long(1_700_000_000_000)
    for cut in range(1, len(timestamp)):
        with pytest.raises((EOFError, IndexError)):
            decode(HEADER + timestamp[:cut])


BIG = parsed(
    {
        "type": "record",
        "name": "Big",
        "fields": [
            {"name": "text", "type": "string"},
            {"name": "blob", "type": ["null", "bytes"]},
            {"name": "numbers", "type": {"type": "array", "items": "long"}},
            {"name": "files", "type": {"type": "map", "values": "bytes"}},
        ],
    }
)


def test_long_values_and_big_blocks_read_through_the_slow_paths():
    # Lengths and counts of 64 or more take two bytes (8192 or more, three): not the
    # one-byte tables.
    record = {
        "text": "ünïcødé ✓" * 20,
        "blob": bytes(range(256)) * 40,
        "numbers": list(range(-100, 100)),
        "files": {f"f{i}": b"/gws/" * i for i in range(70)},
    }
    data = fastavro_bytes(BIG, record)
    decode = compile_decoder(BIG, dict)
    assert decode(data) == record
    assert compile_encoder(BIG, HEADER, never, access="item")(record) == data
    for cut in (11, 12, 100, 300, 1000, 10_000, len(data) - 1):
        with pytest.raises((EOFError, IndexError)):
            decode(data[:cut])


@pytest.mark.parametrize("text", ["", "plain", "ünïcødé ✓ 漢字", "x" * 200 + "é"])
def test_strings_ascii_or_not_read_as_utf8(text):
    schema = one_field({"type": "map", "values": "string"})
    record = {"x": {text: text, "k": "v"}}
    assert compile_decoder(schema, dict)(fastavro_bytes(schema, record)) == record


@pytest.mark.parametrize("raw", [b"\xff", b"caf\xe9", b"\xe6\xbc"])  # latin-1, cut UTF-8
def test_strings_that_are_not_utf8_are_corrupt(raw):
    with pytest.raises(UnicodeDecodeError):
        compile_decoder(one_field("string"), dict)(HEADER + write_long(len(raw)) + raw)


def test_a_negative_long_length_is_corrupt():
    with pytest.raises(ValueError, match="negative length"):
        compile_decoder(one_field("string"), dict)(HEADER + write_long(-100) + b"x" * 50)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    """A frozen slotted class, like an event."""

    x: int
    label: str | None


POINT = parsed(
    {
        "type": "record",
        "name": "Point",
        "fields": [{"name": "x", "type": "long"}, {"name": "label", "type": ["null", "string"]}],
    }
)


def test_decoded_frozen_slotted_instances_are_ordinary_instances():
    point = Point(x=3, label="here")
    decoded = compile_decoder(POINT, Point)(fastavro_bytes(POINT, {"x": 3, "label": "here"}))
    assert type(decoded) is Point
    assert decoded == point
    assert hash(decoded) == hash(point)
    assert repr(decoded) == repr(point)
    assert not hasattr(decoded, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded.x = 4  # type: ignore[misc]


@dataclasses.dataclass(frozen=True, slots=True)
class Positive:
    """A class that refuses some values."""

    x: int

    def __post_init__(self) -> None:
        if self.x < 0:
            raise ValueError("negative")


def test_post_init_still_runs_and_its_refusal_is_rejected():
    decode = compile_decoder(one_field("long"), Positive)
    assert decode(HEADER + write_long(5)) == Positive(5)
    with pytest.raises(Rejected):
        decode(HEADER + write_long(-5))


SUBCLASSED: list[type] = []


class Watched:
    """A slotted class that runs code when subclassed."""

    __slots__ = ("x",)

    def __init__(self, x: int):
        self.x = x

    def __init_subclass__(cls) -> None:
        SUBCLASSED.append(cls)


def test_classes_that_would_run_code_when_subclassed_are_called_instead():
    assert compile_decoder(one_field("long"), Watched)(HEADER + write_long(7)).x == 7
    assert SUBCLASSED == []
