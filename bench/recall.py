"""GET from tape: the recall worker staging, transfer-get's code restoring each sub-batch
straight from its online aggregate, then the cache filled (D231), next to `xrdcp`
stage + read of the same aggregates from the same XRootD server, in the same run.

The data: many 64 KiB files and a few large ones, cached as a PUT leaves them, archived in
aggregates as the sweeper plans them, then evicted from the endpoint's disk buffer (tape
only). nearline's side is the recall worker (``processors.archive_get``) given the
sub-batches a GET of all the files plans (1,000 files each), all at once, as the decider
sends them: stage, report online. Each online report starts that sub-batch's restore in
another process, as transfer-get: members read by offset from the aggregate
(``StagedAggregate``), in runs, 16 at a time, each sha256-checked, then one sync per
sub-batch. nearline's time is until every file is on disk. Then, as the decider asks once
a sub-batch is restored, the recall worker reads the members again, verifies them and puts
them back into the S3 cache: when the cache is full again is printed beside it. The
reference: the aggregates evicted again, `xrdfs prepare -s`, waiting until they are
online (0.1 s polls), then `xrdcp` of each to local disk.

    python -m bench.recall [--small 2000] [--large-mib 256] [--large-count 3] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from bench.tape import SMALL, cache_files, remove_objects
from domain.object_keys import object_key
from domain.pack_keys import Slice, pack_of
from events.base import event_id_for
from events.reports import AggregateOnline, AggregateRecalled
from events.work import RECALL_FILL, RECALL_ONLINE, RecallRequested
from nearline.settings import Settings
from processors.archive_get.worker import Recaller
from processors.transfer_get.restore import pack_runs
from stores.durability import BatchSync
from stores.outcomes import Failure
from stores.s3.object_store import ObjectStore, RunTarget
from stores.tape.aggregate import AggregateIndex, archive, plan_aggregates
from stores.tape.endpoint import TapeEndpoint
from stores.tape.staged_files import StagedAggregate

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
                    step=RECALL_ONLINE,
                )
            )
    return requests


def nearline_get(
    settings: Settings,
    store: ObjectStore,
    tape: TapeEndpoint,
    requests: list[RecallRequested],
    restorer: ProcessPoolExecutor,
    target: Path,
) -> tuple[Phases, list[AggregateRecalled]]:
    """Every sub-batch handled at once by the recall worker's code, as its agent would;
    each restored from its aggregate by ``restorer`` once reported online. When each
    phase ended, and the recall reports."""
    reports: list[AggregateRecalled] = []
    by_batch = {r.sub_batch: r for r in requests}
    restores: list[Future[int]] = []
    finished: list[float] = []  # when each restore ended, as its result came back
    online: list[float] = []
    start = time.perf_counter()

    async def send(messages) -> None:
        for _, _, event in messages:
            if isinstance(event, AggregateRecalled):
                reports.append(event)
            elif isinstance(event, AggregateOnline):
                online.append(time.perf_counter())
                request = by_batch[event.sub_batch]
                restore = restorer.submit(
                    restore_from_tape,
                    settings.tape.url,
                    settings.tape.root,
                    request.aggregate,
                    [(m["offset"], m["size"], m["sha256"]) for m in request.members],
                    str(target / f"b{event.sub_batch}"),
                )
                restore.add_done_callback(lambda _: finished.append(time.perf_counter()))
                restores.append(restore)

    async def all_at_once(requests: list[RecallRequested]) -> None:
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

    asyncio.run(all_at_once(requests))
    if len(restores) != len(requests):
        raise SystemExit(f"{len(restores)} of {len(requests)} sub-batches were reported online")
    restored = sum(f.result() for f in restores)
    on_disk = max(finished)
    # As the decider does once each sub-batch is restored: its members go back into the
    # cache (here all at once, after the last restore).
    asyncio.run(all_at_once([dataclasses.replace(r, step=RECALL_FILL) for r in requests]))
    cached = time.perf_counter()
    if restored != sum(len(r.members) for r in requests):
        raise SystemExit(f"only {restored} files were restored")
    for report in reports:
        if report.failed:
            raise SystemExit(f"the recall failed: {report.failed[:3]}")
    return Phases(max(online) - start, on_disk - start, cached - start), reports


@dataclasses.dataclass(frozen=True)
class Phases:
    """Seconds from the GET until: every aggregate online, every file on disk, the cache
    filled again."""

    online: float
    on_disk: float
    cached: float


def restore_from_tape(
    url: str, root: str, aggregate: str, members: list[tuple[int, int, str]], folder: str
) -> int:
    """One sub-batch restored from its online aggregate as transfer-get fills files (in a
    process of its own, as transfer-get is): the files restored."""
    staged = StagedAggregate(TapeEndpoint(url, root), aggregate)
    os.mkdir(folder)
    fds = [
        os.open(f"{folder}/f{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        for i in range(len(members))
    ]
    keys = [Slice(aggregate, offset, size).key for offset, size, _ in members]
    entries = [{"object_key": key} for key in keys]
    jobs = pack_runs(list(enumerate(fds)), entries, staged.slice_of)  # type: ignore[arg-type]
    to_sync = BatchSync()

    def fill(job: list[tuple[int, int]]) -> list[object]:
        targets = [
            RunTarget(Slice(aggregate, members[i][0], members[i][1]), fd, members[i][2])
            for i, fd in job
        ]
        got = staged.download_run_into(aggregate, targets, durable=False)
        for _, fd in job:
            if not to_sync.keep(fd):
                os.close(fd)
        return list(got)

    with ThreadPoolExecutor(DOWNLOADS) as pool:
        outcomes = [o for got in pool.map(fill, jobs) for o in got]
    to_sync.sync()
    failed = [o for o in outcomes if isinstance(o, Failure)]
    if failed:
        raise SystemExit(f"restore from {aggregate} failed: {failed[:3]}")
    return len(outcomes)


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
    parser.add_argument("--rounds", type=int, default=1, help="nearline and xrdcp, alternated")
    args = parser.parse_args()
    settings = Settings()
    tape = TapeEndpoint(settings.tape.url, settings.tape.root)
    sizes = [SMALL] * args.small + [args.large_mib * 1024**2] * args.large_count
    holding = 900_000_000 + int(uuid.uuid4().int % 90_000_000)
    restorer = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    restorer.submit(os.getpid).result()  # started before the clock does
    with (
        restorer,
        ObjectStore(settings) as store,
        tempfile.TemporaryDirectory(prefix="nl-bench-") as tmp,
    ):
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

            requests = requests_of(holding, indexes)
            ratios: list[float] = []
            for round_ in range(args.rounds):
                go_offline(tape, names)
                ours = folder / f"nearline-{round_}"
                ours.mkdir()
                phases, reports = nearline_get(settings, store, tape, requests, restorer, ours)
                for key in recalled_objects(reports):  # each round fills an empty cache
                    store.delete(key)

                go_offline(tape, names)
                theirs = folder / f"xrdcp-{round_}"
                theirs.mkdir()
                stage_s, read_s = xrdcp_stage_and_read(tape, names, theirs)
                nearline_s, xrdcp_s = phases.on_disk, stage_s + read_s
                ratios.append(xrdcp_s / nearline_s)
                print(
                    f"recall: {args.small} x 64 KiB + {args.large_count} x {args.large_mib} MiB"
                    f" = {data / MB:.0f} MB in {len(names)} aggregates ({total / MB:.0f} MB"
                    f" of tar), round {round_ + 1} of {args.rounds},"
                    f" load {os.getloadavg()[0]:.1f}\n"
                    f"  nearline stage, online  {phases.online:7.2f} s\n"
                    f"  nearline tape -> disk   {nearline_s:7.2f} s  "
                    f"{data / nearline_s / MB:7.1f} MB/s\n"
                    f"  (cache filled again at  {phases.cached:7.2f} s, "
                    f"{len(recalled_objects(reports))} objects)\n"
                    f"  xrdfs prepare, online   {stage_s:7.2f} s\n"
                    f"  xrdcp to disk           {read_s:7.2f} s\n"
                    f"  xrdcp in all            {xrdcp_s:7.2f} s  {data / xrdcp_s / MB:7.1f} MB/s\n"
                    f"  ratio                   {ratios[-1]:7.2f}  (target >= 0.80)",
                    flush=True,
                )
                shutil.rmtree(ours)
                shutil.rmtree(theirs)
            if args.rounds > 1:
                print(f"median ratio {statistics.median(ratios):.2f} of {args.rounds} rounds")
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
