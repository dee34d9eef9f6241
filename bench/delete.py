"""How long the catalog decider takes to decide a DELETE (pure decisions, no Kafka).

    python bench/delete.py [--files 100000] [--holdings 100]

One user's partition holds ``files`` stored files spread over ``holdings`` holdings; the
decider then decides a DELETE of ten named paths (no selector: every holding is looked
at), of a regex over every path that matches a tenth of them, and of one whole holding.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from events.base import event_id_for
from events.catalog import (
    CatalogedFile,
    FilesCataloged,
    FilesReserved,
    HoldingCreated,
    IndexedFile,
    TransactionAccepted,
)
from events.requests import DeleteRequested
from processors.catalog.decider import Decider
from processors.catalog.state import CatalogState


def envelope(tid: str, step: str) -> dict:
    return {
        "event_id": event_id_for(tid, step),
        "transaction_id": tid,
        "user": "alice",
        "group": "climate",
        "cause_id": None,
        "occurred_at": 1,
    }


def filled(files: int, holdings: int) -> CatalogState:
    state = CatalogState(0, 6)
    for h in range(holdings):
        hid, tid = h * 6 + 1, f"t{h}"
        entries = [
            IndexedFile(
                path=b"/data/h%d/f%06d.nc" % (h, i),
                path_type="FILE",
                link_path=None,
                size=10,
                mode=0o100644,
                uid=1000,
                gid=1000,
                mtime_ns=1,
            )
            for i in range(files // holdings)
        ]
        stored = [
            CatalogedFile(**e, object_key=f"h{hid}/{tid}/{i}", adler32="1", sha256="2")
            for i, e in enumerate(entries)
        ]
        label = f"run{h}"
        env = lambda step: envelope(tid, step)  # noqa: B023, E731
        state.apply(HoldingCreated(**env("holding"), holding_id=hid, label=label, tags={}))
        state.apply(
            TransactionAccepted(
                **env("accepted"), api_action="put", job_label="j", holding_id=hid, label=label
            )
        )
        state.apply(
            FilesReserved(
                **env("reserved"), holding_id=hid, sub_batch=0, last=True, files=entries, refused=[]
            )
        )
        state.apply(
            FilesCataloged(**env("cataloged"), holding_id=hid, sub_batch=0, files=stored, failed=[])
        )
    return state


def delete(
    tid: str, paths: list[bytes], regex: str | None = None, label: str | None = None
) -> DeleteRequested:
    return DeleteRequested(
        **envelope(tid, "requested"),
        paths=paths,
        regex=regex,
        label=label,
        holding_id=None,
        tags={},
        job_label="bench",
        api_action="dellist",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--holdings", type=int, default=100)
    args = parser.parse_args()
    decider = Decider(filled(args.files, args.holdings), clock=lambda: 1)
    per_holding = args.files // args.holdings
    cases = [
        ("10 paths, no selector", delete("x1", [b"/data/h5/f%06d.nc" % i for i in range(10)])),
        ("regex matching 1/10 of all paths", delete("x2", [], r"f\d{5}0\.nc$")),
        (f"one whole holding ({per_holding} files)", delete("x3", [], label="run7")),
    ]
    print(f"{args.files} files in {args.holdings} holdings")
    for name, request in cases:
        start = time.perf_counter()
        out = decider.handle(request)
        elapsed = (time.perf_counter() - start) * 1000
        print(f"  {name}: {len(out)} events decided in {elapsed:.1f} ms")


if __name__ == "__main__":
    main()
