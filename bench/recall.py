"""GET from tape: the recall worker's tape -> cache and a GET's cache -> disk, next to
`xrdcp` stage + read of the same aggregates from the same XRootD server, in the same run.

The data: many 64 KiB files and a few large ones, cached as a PUT leaves them, archived in
aggregates as the sweeper plans them, then evicted from the endpoint's disk buffer (tape
only). nearline's tape -> cache is the recall worker (``processors.archive_get``) given
the sub-batches a GET of all the files plans (1,000 files each), all at once, as the
decider sends them: stage, read by offset, verify, put back into the S3 cache. Its cache
-> disk is every file downloaded from where the recall put it, sha256 checked, 16 at a
time (as transfer-get). The reference: the aggregates evicted again, `xrdfs prepare -s`,
waiting until they are online (0.1 s polls), then `xrdcp` of each to local disk.

    python -m bench.recall [--small 2000] [--large-mib 256] [--large-count 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.tape import SMALL, cache_files, remove_objects
from domain.object_keys import object_key
from domain.pack_keys import pack_of
from events.base import event_id_for
from events.reports import AggregateRecalled
from events.work import RecallRequested
from nearline.settings import Settings
from processors.archive_get.worker import Recaller
from stores.s3.object_store import ObjectStore, Stored
from stores.tape.aggregate import AggregateIndex, Member, archive, plan_aggregates
from stores.tape.endpoint import TapeEndpoint

MB = 1_000_000
SUB_BATCH = 1000  # files per GET sub-batch (IndexSettings.max_files)
DOWNLOADS = 16  # files a transfer-get worker downloads at once


def archived(settings: Settings, store: ObjectStore, tape: TapeEndpoint, holding: int, members):
    """The members archived as the sweeper plans them, and on tape."""
    indexes: list[AggregateIndex] = []
    for planned in plan_aggregates(members, settings.archive.aggregate_bytes):
        for start in range(0, len(planned), settings.archive.max_files_per_aggregate):
            part = planned[start : start + settings.archive.max_files_per_aggregate]
            index = archive(store, tape, holding, part)
            if index.failed:
                raise SystemExit(f"archive-put failed: {index.failed[:3]}")
            indexes.append(index)
    wait(lambda: all(tape.stat(i.name).on_tape for i in indexes), "migration to tape")
    return indexes


def go_offline(tape: TapeEndpoint, names: list[str]) -> None:
    for start in range(0, len(names), 40):
        tape.evict(names[start : start + 40])
    wait(lambda: not any(tape.stat(n).online for n in names), "eviction from the buffer")


def wait(done, what: str, timeout: float = 600, poll: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(poll)


def requests_of(holding: int, indexes: list[AggregateIndex]) -> list[RecallRequested]:
    """The recall sub-batches a GET of every file sends: 1,000 members of one aggregate."""
    transaction = f"bench-recall-{uuid.uuid4().hex[:8]}"
    requests: list[RecallRequested] = []
    for index in indexes:
        copies = sorted(index.members, key=lambda c: c.offset)
        for start in range(0, len(copies), SUB_BATCH):
            batch = len(requests)
            members = [
                {
                    "file_id": c.file_id,
                    "path": c.path,
                    "object_key": object_key(holding, transaction, c.path),
                    "offset": c.offset,
                    "size": c.size,
                    "sha256": c.sha256,
                    "adler32": c.adler32,
                }
                for c in copies[start : start + SUB_BATCH]
            ]
            requests.append(
                RecallRequested(
                    event_id=event_id_for(transaction, f"recall/{batch}"),
                    transaction_id=transaction,
                    user="bench",
                    group="bench",
                    cause_id=None,
                    occurred_at=int(time.time() * 1000),
                    sub_batch=batch,
                    holding_id=holding,
                    aggregate=index.name,
                    members=members,  # type: ignore[arg-type]
                )
            )
    return requests


def nearline_recall(
    settings: Settings, store: ObjectStore, tape: TapeEndpoint, requests: list[RecallRequested]
) -> list[AggregateRecalled]:
    """Every sub-batch handled at once by the recall worker's code, as its agent would."""
    reports: list[AggregateRecalled] = []

    async def send(messages) -> None:
        reports.extend(event for _, _, event in messages if isinstance(event, AggregateRecalled))

    async def all_at_once() -> None:
        with ThreadPoolExecutor(2 * settings.recall.concurrency) as pool:  # as __main__
            recaller = Recaller(
                settings.recall,
                store,
                tape,
                send,
                pack_below=settings.s3.pack_below,
                pack_bytes=settings.s3.pack_bytes,
                executor=pool,
            )
            await asyncio.gather(*(recaller.handle(r) for r in requests))

    asyncio.run(all_at_once())
    for report in reports:
        if report.failed:
            raise SystemExit(f"the recall failed: {report.failed[:3]}")
    return reports


def download_all(store: ObjectStore, reports, members: dict[int, Member], target: Path) -> None:
    def one(recalled) -> None:
        member = members[recalled["file_id"]]
        name = os.path.join(os.fsencode(target), b"f%d" % recalled["file_id"])
        outcome = store.download(recalled["object_key"], name, member.sha256, member.size)
        if not isinstance(outcome, Stored):
            raise SystemExit(f"download of {recalled['object_key']} failed: {outcome}")

    with ThreadPoolExecutor(DOWNLOADS) as pool:
        list(pool.map(one, [r for report in reports for r in report.recalled]))


def xrdcp_stage_and_read(tape: TapeEndpoint, names: list[str], target: Path) -> tuple[float, float]:
    start = time.perf_counter()
    for begin in range(0, len(names), 40):
        fulls = [f"{tape.root}/{n}" for n in names[begin : begin + 40]]
        subprocess.run(
            ["xrdfs", tape.url, "prepare", "-s", *fulls], check=True, stdout=subprocess.DEVNULL
        )
    wait(lambda: all(tape.stat(n).online for n in names), "xrdfs prepare", poll=0.1)
    staged = time.perf_counter()
    sources = [f"{tape.url}{tape.root}/{n}" for n in names]
    subprocess.run(["xrdcp", "-s", "-f", *sources, f"{target}/"], check=True)
    return staged - start, time.perf_counter() - staged


def recalled_objects(reports) -> list[str]:
    keys = (r["object_key"] for report in reports for r in report.recalled)
    return list(dict.fromkeys(pack_of(k) or k for k in keys))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000, help="64 KiB files")
    parser.add_argument("--large-mib", type=int, default=256, help="size of each large file")
    parser.add_argument("--large-count", type=int, default=3, help="large files")
    args = parser.parse_args()
    settings = Settings()
    tape = TapeEndpoint(settings.tape.url, settings.tape.root)
    sizes = [SMALL] * args.small + [args.large_mib * 1024**2] * args.large_count
    holding = 900_000_000 + int(uuid.uuid4().int % 90_000_000)
    with ObjectStore(settings) as store, tempfile.TemporaryDirectory(prefix="nl-bench-") as tmp:
        folder = Path(tmp)
        members = cache_files(store, folder, f"bench-recall/{holding}", sizes)
        indexes: list[AggregateIndex] = []
        reports: list[AggregateRecalled] = []
        try:
            indexes = archived(settings, store, tape, holding, members)
            names = [i.name for i in indexes]
            total = sum(i.size for i in indexes)
            data = sum(sizes)
            go_offline(tape, names)

            start = time.perf_counter()
            reports = nearline_recall(settings, store, tape, requests_of(holding, indexes))
            to_cache = time.perf_counter() - start
            ours = folder / "nearline"
            ours.mkdir()
            start = time.perf_counter()
            download_all(store, reports, {m.file_id: m for m in members}, ours)
            to_disk = time.perf_counter() - start

            go_offline(tape, names)
            theirs = folder / "xrdcp"
            theirs.mkdir()
            stage_s, read_s = xrdcp_stage_and_read(tape, names, theirs)

            nearline_s, xrdcp_s = to_cache + to_disk, stage_s + read_s
            print(
                f"recall: {args.small} x 64 KiB + {args.large_count} x {args.large_mib} MiB = "
                f"{data / MB:.0f} MB in {len(names)} aggregates ({total / MB:.0f} MB of tar), "
                f"{len(recalled_objects(reports))} objects put back\n"
                f"  nearline tape -> cache  {to_cache:7.2f} s\n"
                f"  nearline cache -> disk  {to_disk:7.2f} s\n"
                f"  nearline in all         {nearline_s:7.2f} s  {data / nearline_s / MB:7.1f} MB/s"
                "\n"
                f"  xrdfs prepare, online   {stage_s:7.2f} s\n"
                f"  xrdcp to disk           {read_s:7.2f} s\n"
                f"  xrdcp in all            {xrdcp_s:7.2f} s  {data / xrdcp_s / MB:7.1f} MB/s\n"
                f"  ratio                   {xrdcp_s / nearline_s:7.2f}  (target >= 0.80)",
                flush=True,
            )
        finally:
            for index in indexes:
                try:
                    tape.delete(index.name)
                except Exception as error:  # leftovers must not hide the figures
                    print(f"  could not remove {index.name}: {error}")
            remove_objects(store, members)
            for key in recalled_objects(reports):
                store.delete(key)


if __name__ == "__main__":
    main()
