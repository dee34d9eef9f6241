"""Encode and decode rates of the event codec on one core: generated code against fastavro.

    python bench/codec.py [--count 2000] [--rounds 100]

The event is a typical PutRequested (three paths, a label, two tags). Every round times a
loop of ``count`` calls of each contender in turn, and each keeps its best loop: other
processes only ever make a loop slower, short loops often run between their time slices,
and taking turns exposes every contender to the same noise. The contenders:

- ``compiled``: ``Codec()``, the generated encoder and decoder (what processors use);
- ``fastavro``: ``Codec(compiled=False)``, the same header, checks and event class over
  fastavro's schemaless writer and reader;
- ``raw fastavro``: schemaless_writer/reader on the record as a dict, with no header, no
  event class and no checks.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from io import BytesIO
from itertools import repeat
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from fastavro import schemaless_reader, schemaless_writer

from events.base import event_id_for
from events.codec import Codec
from events.registry import default_registry
from events.requests import PutRequested

TARGET = 200_000
"""Events per second the compiled codec must reach each way."""


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


def best_rates(
    contenders: dict[str, tuple[Callable[[Any], object], Any]], count: int, rounds: int
) -> dict[str, float]:
    """Calls per second of each ``function(argument)``: its best loop of ``count`` calls,
    over ``rounds`` rounds in which every contender takes a turn."""
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(rounds):
        for name, (function, argument) in contenders.items():
            started = time.perf_counter()
            for _ in repeat(None, count):
                function(argument)
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: count / seconds for name, seconds in best.items()}


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2_000, help="calls per timed loop")
    parser.add_argument("--rounds", type=int, default=100, help="timed loops per contender")
    args = parser.parse_args()

    event = typical_event()
    compiled, plain = Codec(), Codec(compiled=False)
    data = compiled.encode(event)
    assert data == plain.encode(event)
    assert compiled.decode(data) == event == plain.decode(data)
    schema = default_registry().latest(PutRequested.schema_name).parsed
    record = {field["name"]: getattr(event, field["name"]) for field in schema["fields"]}
    body = data[10:]

    def raw_write(record: dict[str, Any]) -> bytes:
        out = BytesIO()
        schemaless_writer(out, schema, record)
        return out.getvalue()

    def raw_read(body: bytes) -> object:
        return schemaless_reader(BytesIO(body), schema, None)

    print(
        f"typical event: {type(event).__name__}, {len(data)} bytes; best of {args.rounds} "
        f"loops of {args.count:,} on one core, contenders taking turns"
    )
    for action, contenders in (
        (
            "encode",
            {
                "compiled": (compiled.encode, event),
                "fastavro": (plain.encode, event),
                "raw fastavro": (raw_write, record),
            },
        ),
        (
            "decode",
            {
                "compiled": (compiled.decode, data),
                "fastavro": (plain.decode, data),
                "raw fastavro": (raw_read, body),
            },
        ),
    ):
        rates = best_rates(contenders, args.count, args.rounds)
        ours = rates["compiled"]
        verdict = "met" if ours >= TARGET else "MISSED"
        print(
            f"{action}: compiled {ours:,.0f}/s [target {TARGET:,}/s: {verdict}]  "
            f"fastavro {rates['fastavro']:,.0f}/s (x{ours / rates['fastavro']:.2f})  "
            f"raw fastavro {rates['raw fastavro']:,.0f}/s (x{ours / rates['raw fastavro']:.2f})"
        )


if __name__ == "__main__":
    main()
