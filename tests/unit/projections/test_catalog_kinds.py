"""A projection's runner decodes only the kinds of record its parts act on: the kinds the
catalog declares are all it acts on, and the others are read past, not lost."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest

from events.base import Event
from events.catalog import FilesReserved, TransactionFinished
from events.codec import Codec, UndecodableRecord, encode
from events.registry import default_registry
from events.samples import sample_records
from projections import catalog
from projections.definitions import projection
from projections.runner import Part, Projection, decode_batch, decode_record


def samples_of_kinds_passed_over() -> list[Event]:
    registry = default_registry()
    events: list[Event] = []
    for name in registry.names():
        if name in catalog.KINDS:
            continue
        cls = registry.event_class(name)
        events += [cls(**record) for record in sample_records(registry.latest(name).parsed)]
    return events


@pytest.mark.parametrize("event", samples_of_kinds_passed_over(), ids=lambda e: type(e).__name__)
def test_the_catalog_does_nothing_with_a_kind_it_does_not_declare(event):
    # A case added to ``catalog.apply`` for a kind missing from KINDS would make a replay
    # skip those facts: this fails first.
    conn = MagicMock()
    catalog.apply(conn, [event], "bucket")
    assert conn.mock_calls == []


def test_the_kinds_of_a_topic_are_those_of_every_part_that_reads_it():
    nothing = Part(("a", "b"), lambda conn, events: None, frozenset({"x"}))
    more = Part(("b",), lambda conn, events: None, frozenset({"y"}))
    anything = Part(("c",), lambda conn, events: None)
    both = Projection("p", (nothing, more, anything))
    assert both.kinds_of("a") == {"x"}
    assert both.kinds_of("b") == {"x", "y"}
    assert both.kinds_of("c") is None
    assert projection("catalog", "bucket").kinds_of("nearline.catalog") == catalog.KINDS
    # The status projection reads every fact of the catalog topic.
    assert projection("all", "bucket").kinds_of("nearline.catalog") is None


class FakeMessage:
    def __init__(self, value: bytes, offset: int) -> None:
        self._value, self._offset = value, offset

    def value(self) -> bytes:
        return self._value

    def topic(self) -> str:
        return "nearline.catalog"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def error(self) -> None:
        return None


def one_of(cls: type[Event]) -> Event:
    return cls(**sample_records(default_registry().latest(cls.schema_name).parsed)[1])


def test_records_of_kinds_no_part_takes_are_not_decoded_but_their_positions_count():
    reserved, finished = one_of(FilesReserved), one_of(TransactionFinished)
    messages = [FakeMessage(encode(reserved), 7), FakeMessage(encode(finished), 8)]
    records, ends = decode_batch(messages, projection("catalog", "bucket"))  # type: ignore[arg-type]
    assert records == [("nearline.catalog", reserved)]
    assert ends == {("nearline.catalog", 0): 9}
    # Without a projection, or for one that takes every kind, all are decoded.
    records, _ends = decode_batch(messages)  # type: ignore[arg-type]
    assert [event for _topic, event in records] == [reserved, finished]


def test_a_record_whose_header_is_unknown_is_decoded_as_before_whatever_the_kinds(caplog):
    # A newer writer's version of a wanted kind has a header this code does not know:
    # only decoding can tell (here it is garbage, logged and skipped).
    garbage = FakeMessage(b"\xc3\x01" + bytes(8) + b"body", 3)
    assert decode_record(garbage, "nearline.catalog", 0, 3, frozenset()) is None  # type: ignore[arg-type]
    assert "unknown schema fingerprint" in caplog.text


def test_the_schema_name_comes_from_the_header_and_unknown_headers_are_not_kept():
    codec = Codec()
    data = encode(one_of(FilesReserved))
    assert codec.schema_name(data) == FilesReserved.schema_name
    for junk in (b"", b"not avro at all", b"\xc3\x01" + bytes(8)):
        assert codec.schema_name(junk) is None
    assert list(codec._names.values()) == [FilesReserved.schema_name]


def test_a_damaged_record_of_a_known_kind_is_refused_for_what_it_is_and_where_it_was(caplog):
    data = encode(one_of(FilesReserved))
    codec = Codec()
    assert codec.decode_kind(data, None) == codec.decode(data)  # its decoder is known now
    with pytest.raises(UndecodableRecord) as refused:
        codec.decode_kind(data[:-3], frozenset({FilesReserved.schema_name}))
    assert refused.value.reason == "truncated"
    assert decode_record(FakeMessage(data[:-3], 5), "nearline.catalog", 2, 5, None) is None  # type: ignore[arg-type]
    assert "nearline.catalog[2]@5" in caplog.text
