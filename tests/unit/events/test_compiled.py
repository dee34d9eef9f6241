"""The generated fast path writes exactly fastavro's bytes and reads exactly its values,
for every type it compiles; it refuses what it does not compile and never loops on
corrupt counts."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from events.compiled import (
    Unsupported,
    compile_decoder,
    compile_encoder,
    read_long,
    write_long,
)
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
