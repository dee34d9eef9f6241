"""Encode and decode rates of the event codec on one core, against raw fastavro.

    python bench/codec.py [--count 200000] [--repeats 5]

The event is a typical PutRequested (three paths, a label, two tags). Each figure is the
best of several timed loops, since other processes only ever make a loop slower. "raw
fastavro" is schemaless_writer/reader on the same record as a dict, with no header, no
event class and no checks: the ratio is what the codec costs (or saves) against it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from fastavro import schemaless_reader, schemaless_writer

from events.base import event_id_for
from events.codec import Codec
from events.registry import default_registry
from events.requests import PutRequested

TARGET = 200_000


def typical_event() -> PutRequested:
    """What a put request usually looks like."""
    transaction = event_id_for("transaction", "bench")
    return PutRequested(
        event_id=event_id_for("put", transaction),
        transaction_id=transaction,
        user="alice",
        group="climate",
        cause_id=None,
        occurred_at=1_700_000_000_000,
        label="run-42",
        holding_id=None,
        tags={"model": "ukesm", "experiment": "ssp585"},
        paths=[
            b"/gws/nopw/j04/climate/ukesm/run42/tas_day_2015.nc",
            b"/gws/nopw/j04/climate/ukesm/run42/pr_day_2015.nc",
            b"/gws/nopw/j04/climate/ukesm/run42/README",
        ],
        path_list_file=None,
        job_label="nightly ingest",
        api_action="put",
    )


def rate(action: Callable[[], object], count: int, repeats: int) -> float:
    """Calls per second of ``action``: the best of ``repeats`` loops of ``count`` calls."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(count):
            action()
        best = min(best, time.perf_counter() - started)
    return count / best


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    count, repeats = args.count, args.repeats

    event = typical_event()
    codec, plain = Codec(), Codec(compiled=False)
    data = codec.encode(event)
    assert codec.decode(data) == event == plain.decode(data)
    schema = default_registry().latest(PutRequested.schema_name).parsed
    record = {name: getattr(event, name) for name in schema_field_names(schema)}
    body = data[10:]

    def raw_write() -> bytes:
        out = BytesIO()
        schemaless_writer(out, schema, record)
        return out.getvalue()

    def raw_read() -> object:
        return schemaless_reader(BytesIO(body), schema, None)

    print(
        f"typical event: {type(event).__name__}, {len(data)} bytes; best of {repeats} x "
        f"{count:,} on one core"
    )
    raw = rate(raw_write, count, repeats)
    for label, measured in (
        ("codec encode", rate(lambda: codec.encode(event), count, repeats)),
        ("codec encode, fastavro only", rate(lambda: plain.encode(event), count, repeats)),
    ):
        print(
            f"{label}: {measured:,.0f} events/s  (raw fastavro {raw:,.0f}/s, "
            f"ratio {measured / raw:.2f}){verdict(label, measured)}"
        )
    raw = rate(raw_read, count, repeats)
    for label, measured in (
        ("codec decode", rate(lambda: codec.decode(data), count, repeats)),
        ("codec decode, fastavro only", rate(lambda: plain.decode(data), count, repeats)),
    ):
        print(
            f"{label}: {measured:,.0f} events/s  (raw fastavro {raw:,.0f}/s, "
            f"ratio {measured / raw:.2f}){verdict(label, measured)}"
        )


def schema_field_names(schema: dict[str, object]) -> list[str]:
    """The record's field names."""
    fields = schema["fields"]
    assert isinstance(fields, list)
    return [field["name"] for field in fields]


def verdict(label: str, measured: float) -> str:
    """Whether the production path meets the target."""
    if "only" in label:
        return ""
    return f"  [target {TARGET:,}/s: {'met' if measured >= TARGET else 'MISSED'}]"


if __name__ == "__main__":
    main()
