"""Archive throughput to the local stack's tape endpoint, next to `xrdcp` of a pre-built tar
of the same data to the same server, in the same run.

Two data sets: many 64 KiB files and a few large ones, first cached in S3 as a PUT leaves
them (small files in packs, D90). nearline's time is archive-put's work for one
aggregate: reading the members from S3, streaming the tar to XRootD with adler32, and
checking the server's adler32. xrdcp's is `xrdcp --cksum adler32` of the same tar from
local disk. Target (issue 16): keep a ratio of at least 1.1.

Each data set is written ``--rounds`` times, nearline and xrdcp taking turns at going
first, and each write waits until the tape drive has migrated the one before (its copy
to tape competes for the disk and the cores). CPU is counted for this stack's own S3 and
XRootD servers only, found by their command lines naming its home.

    python bench/tape.py [--small 10000] [--large-mib 1024] [--large-count 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from domain.pack_keys import pack_of
from nearline.settings import Settings
from stores.s3.object_store import ObjectStore, Stored
from stores.s3.source_files import Expected
from stores.tape.aggregate import Member, archive, stream_aggregate
from stores.tape.cache_reading import PREFETCH_WORKERS, SMALL_OBJECT
from stores.tape.endpoint import TapeEndpoint

MB = 1_000_000
SMALL = 64 * 1024
SUB_BATCH = 1000  # files per transfer-put request (IndexSettings.max_files)
SERVERS = (("S3 server", b"versitygw"), ("XRootD server", b"xrootd"))  # in their command lines


def cache_files(store: ObjectStore, folder: Path, prefix: str, sizes: list[int]) -> list[Member]:
    """Write files of these sizes, upload them to S3 as a PUT does, delete the local
    copies; the members to archive them as."""
    block = os.urandom(64 * 1024**2 + SMALL)
    items = []
    for n, size in enumerate(sizes):
        path = folder / f"f{n:05d}.bin"
        with path.open("wb") as f:
            written, start = 0, (n * 4099) % (64 * 1024**2)
            while written < size:
                piece = block[start : start + min(size - written, 64 * 1024**2)]
                f.write(piece)
                written += len(piece)
        status = path.stat()
        items.append((os.fsencode(path), f"{prefix}/f{n:05d}", Expected(size, status.st_mtime_ns)))
    # As transfer-put stores them: small files in packs, a sub-batch of files at a time.
    settings, results = Settings(), []
    for start in range(0, len(items), SUB_BATCH):
        batch = items[start : start + SUB_BATCH]
        if all(0 < expected.size < settings.s3.pack_below for _, _, expected in batch):
            packed = [(source, expected) for source, _, expected in batch]
            folder_key = f"{prefix}/t{start}/"
            results += store.upload_packed(packed, folder_key, settings.s3.pack_bytes)
        else:
            results += store.upload_many(batch)
    members = []
    for n, ((source, _, expected), result) in enumerate(zip(items, results, strict=True)):
        if not isinstance(result, Stored):
            raise SystemExit(f"upload of {source!r} failed: {result}")
        os.unlink(source)
        members.append(
            Member(
                n + 1,
                source,
                result.key,
                expected.size,
                0o644,
                expected.mtime_ns,
                result.sha256,
                result.adler32,
            )
        )
    return members


def cpu_seconds(home: Path) -> dict[str, float]:
    """CPU seconds used so far by this process and by the S3 and XRootD servers of the
    stack at ``home`` (not another stack's on the same machine)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    spent = {"nearline": usage.ru_utime + usage.ru_stime}
    marker = os.fsencode(home)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            args = Path(f"/proc/{entry.name}/cmdline").read_bytes()
        except OSError:
            continue
        for name, program in SERVERS:
            if marker in args and program in args.split(b"\0", 1)[0]:
                spent[name] = spent.get(name, 0.0) + _process_cpu(int(entry.name))
    return spent


def drive_idle(tape: TapeEndpoint, paths: list[str], timeout_s: float = 900) -> None:
    """Wait until every file written so far is on tape: the drive's copy is done."""
    deadline = time.monotonic() + timeout_s
    waiting = list(paths)
    while waiting and time.monotonic() < deadline:
        waiting = [p for p in waiting if not tape.stat(p).on_tape]
        if waiting:
            time.sleep(0.5)


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def objects_of(members: list[Member]) -> list[str]:
    """The keys of the objects that hold the members: packs, or their own."""
    return list(dict.fromkeys(pack_of(m.object_key) or m.object_key for m in members))


def read_all(store: ObjectStore, members: list[Member]) -> float:
    """Seconds to GET every object that holds a member whole, as many at once as
    archive-put does."""
    start = time.perf_counter()
    with ThreadPoolExecutor(PREFETCH_WORKERS) as pool:
        for found in pool.map(store.get_small, objects_of(members)):
            if found is None:
                raise SystemExit("an object went missing during the benchmark")
    return time.perf_counter() - start


def remove_objects(store: ObjectStore, members: list[Member]) -> None:
    for key in objects_of(members):
        store.delete(key)


def run(
    settings: Settings,
    store: ObjectStore,
    tape: TapeEndpoint,
    label: str,
    sizes: list[int],
    folder: Path,
    rounds: int = 2,
) -> None:
    holding = 800_000_000 + int(uuid.uuid4().int % 100_000_000)
    members = cache_files(store, folder, f"bench-tape/{holding}", sizes)
    tar = folder / "prebuilt.tar"
    written: list[str] = []
    try:
        # The same tar, built from the same objects, on local disk for xrdcp.
        with tar.open("wb") as f:
            for chunk in stream_aggregate(store, members, holding_id=holding).chunks():
                f.write(chunk)
        size = tar.stat().st_size

        ratios = []
        for turn in range(rounds):
            order = ["nearline", "xrdcp"] if turn % 2 == 0 else ["xrdcp", "nearline"]
            times: dict[str, float] = {}
            for who in order:
                drive_idle(tape, written)
                if who == "nearline":
                    before = cpu_seconds(settings.home)
                    start = time.perf_counter()
                    index = archive(store, tape, holding + turn, members)
                    times[who] = time.perf_counter() - start
                    after = cpu_seconds(settings.home)
                    used = {name: spent - before.get(name, 0.0) for name, spent in after.items()}
                    written.append(index.name)
                    if index.size != size or index.failed or index.reused:
                        raise SystemExit(
                            f"archive-put went wrong: {index.size} of {size} bytes, "
                            f"{index.failed[:3]}"
                        )
                else:
                    target = f"{tape.url}{tape.root}/bench/xrdcp-{uuid.uuid4().hex[:12]}.tar"
                    start = time.perf_counter()
                    subprocess.run(
                        ["xrdcp", "-s", "--cksum", "adler32", str(tar), target], check=True
                    )
                    times[who] = time.perf_counter() - start
                    written.append(target.removeprefix(f"{tape.url}{tape.root}/"))
            ours, theirs = size / times["nearline"] / MB, size / times["xrdcp"] / MB
            ratios.append(ours / theirs)
            print(
                f"{label}, round {turn + 1} ({' first, '.join(order)} second): {len(sizes)} "
                f"files, {size / MB:.0f} MB tar\n"
                f"  nearline archive-put  {times['nearline']:7.2f} s  {ours:7.1f} MB/s\n"
                f"  xrdcp of the tar      {times['xrdcp']:7.2f} s  {theirs:7.1f} MB/s\n"
                f"  ratio                 {ours / theirs:7.2f}  (target: keep >= 1.1)\n"
                f"  CPU during archive-put: "
                + ", ".join(f"{name} {spent:.2f} s" for name, spent in used.items()),
                flush=True,
            )
        print(f"{label}: median ratio {statistics.median(ratios):.2f} over {rounds} rounds")
        if all(s <= SMALL_OBJECT for s in sizes):
            # What the S3 server alone allows: every object read, nothing else done.
            get_s = read_all(store, members)
            ceiling = sum(sizes) / get_s / MB
            print(
                f"  S3 GETs alone         {get_s:7.2f} s  {ceiling:7.1f} MB/s of data, "
                f"{len(objects_of(members)) / get_s:,.0f} GETs/s\n"
                f"  nearline / S3 alone   {ours / ceiling:7.2f}",
                flush=True,
            )
    finally:
        tar.unlink(missing_ok=True)
        for path in written:
            try:
                tape.delete(path)
            except Exception as error:  # a benchmark's leftovers must not hide its figures
                print(f"  could not remove {path}: {error}")
        remove_objects(store, members)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000, help="64 KiB files (0: skip)")
    parser.add_argument("--large-mib", type=int, default=1024, help="size of each large file")
    parser.add_argument("--large-count", type=int, default=5, help="large files (0: skip)")
    parser.add_argument("--rounds", type=int, default=2, help="turns of each, alternating")
    args = parser.parse_args()
    settings = Settings()
    tape = TapeEndpoint(settings.tape.url, settings.tape.root)
    with ObjectStore(settings) as store, tempfile.TemporaryDirectory(prefix="nl-bench-") as tmp:
        folder = Path(tmp)
        if args.small:
            run(settings, store, tape, "small", [SMALL] * args.small, folder, args.rounds)
        if args.large_count:
            sizes = [args.large_mib * 1024**2] * args.large_count
            run(settings, store, tape, "large", sizes, folder, args.rounds)


if __name__ == "__main__":
    main()
