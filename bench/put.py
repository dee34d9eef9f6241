"""PUT throughput through the local stack, next to `rclone copy` of the same data into
the same S3 server, in the same run.

Two data sets: 10,000 files of 4 KiB (files/s) and one 2 GiB file (MB/s). nearline's
time runs from the request being recorded to its COMPLETE state in the catalog: index,
upload with checksums, catalog and projection, all through Kafka. rclone's is its copy
command. Targets: files/s at least half of rclone's; MB/s at least 80% of rclone's.
The first request after the processors start is timed apart (cold start), and the peak
memory of the whole stack during the small-file PUT is reported.

    python bench/put.py [--files 10000] [--big-gib 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, select

from admin import processes
from nearline.requests import RequestLog
from nearline.settings import Settings
from projections import tables as t
from projections.db import make_engine
from projections.migrate import upgrade
from stack.demo import demo_account, hand_over

try:
    from bench.resources import PeakMemory
except ImportError:  # run as a script: its own folder comes first on the path
    from resources import PeakMemory  # type: ignore[no-redef]

MB = 1_000_000


def make_small_files(root: Path, count: int) -> int:
    block = os.urandom(4096 * 64)
    for n in range(count):
        folder = root / f"d{n // 1000:02d}"
        if n % 1000 == 0:
            folder.mkdir()
        offset = (n % 64) * 4096
        (folder / f"f{n:05d}.bin").write_bytes(block[offset : offset + 4096])
    return count * 4096


def make_big_file(root: Path, gib: float) -> int:
    size = int(gib * 1024**3)
    chunk = os.urandom(64 * 1024**2)
    with (root / "big.bin").open("wb") as f:
        written = 0
        while written < size:
            piece = chunk[: min(len(chunk), size - written)]
            f.write(piece)
            written += len(piece)
    return size


def bench_workdir(settings: Settings, name: str) -> tuple[str, str, Path]:
    """The ordinary account the benches act for (nearline never acts for root; the demo's
    own, made if needed) and a fresh folder of theirs for the bench's files."""
    user, group, place = demo_account(settings)
    workdir = place / f"{name}-{uuid.uuid4().hex[:8]}"
    workdir.mkdir()
    hand_over(workdir, user)
    return user, group, workdir


_LOGS: dict[str, RequestLog] = {}


def request_log(settings: Settings) -> RequestLog:
    """The bench's one request log, kept for the whole run as the API keeps its own: a
    new producer's first send waits about half a second (its producer id and the topic's
    metadata), which no request through the API pays. The first request of a run pays
    it, and is reported as the cold start."""
    key = settings.kafka.bootstrap_servers
    if key not in _LOGS:
        _LOGS[key] = RequestLog(settings)
    return _LOGS[key]


def nearline_put(settings: Settings, engine, path: Path, user: str, group: str) -> float:
    hand_over(path, user)  # made as root by the bench: the user's own files from here
    requests = request_log(settings)
    start = time.perf_counter()
    request = requests.put(
        user=user, group=group, paths=[str(path)], label=f"bench-{uuid.uuid4().hex[:8]}"
    )
    state = final_state(engine, request.transaction_id)
    elapsed = time.perf_counter() - start
    if state != "COMPLETE":
        raise SystemExit(f"nearline PUT ended {state}")
    return elapsed


def final_state(engine: Engine, transaction_id: str) -> str | None:
    """The transaction's state once it has ended, polled from the status projection."""
    column = t.status_transactions.c
    query = select(column.state).where(column.transaction_id == transaction_id)
    while True:
        with engine.connect() as conn:
            state = conn.execute(query).scalar()
        if state in ("COMPLETE", "COMPLETE_WITH_ERRORS", "FAILED"):
            return state
        time.sleep(0.05)


def rclone_env(settings: Settings) -> dict[str, str]:
    """The environment that names the stack's S3 server to rclone as the remote ``bench``."""
    # A CA bundle meant for HTTPS elsewhere makes rclone refuse a plain-HTTP endpoint.
    return {
        **{k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"},
        "RCLONE_CONFIG_BENCH_TYPE": "s3",
        "RCLONE_CONFIG_BENCH_PROVIDER": "Other",
        "RCLONE_CONFIG_BENCH_ENDPOINT": settings.s3.endpoint_url,
        "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID": settings.s3.access_key.get_secret_value(),
        "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY": settings.s3.secret_key.get_secret_value(),
        "RCLONE_CONFIG_BENCH_REGION": settings.s3.region,
    }


def run_rclone(settings: Settings, *args: str) -> None:
    """rclone with its log kept back unless it fails (it reports the S3 server's missing
    versioning as an error on every run)."""
    done = subprocess.run(
        ["rclone", *args],
        env=rclone_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if done.returncode != 0:
        raise SystemExit(f"rclone {args[0]} failed:\n{done.stderr.decode(errors='replace')}")


def rclone_copy(settings: Settings, path: Path, *extra: str) -> float:
    target = f"bench:{settings.s3.bucket}/rclone-{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    run_rclone(settings, "copy", str(path), target, *extra)
    return time.perf_counter() - start


def start_against_rclone(name: str) -> tuple[Settings, Engine, str, str, Path] | None:
    """The stack's settings and catalog, its processors started afresh, and a work folder
    ``name`` for a demo user; None, said on stderr, without rclone to compare with."""
    if not shutil.which("rclone"):
        print("rclone is needed for the comparison: apt-get install rclone", file=sys.stderr)
        return None
    settings = Settings()
    engine = make_engine(settings.postgres_url)
    upgrade(engine)
    env = {"NEARLINE_CATALOG__URL": settings.postgres_url}
    processes.stop(settings)
    processes.start(settings, env=env, log=lambda _line: None)
    user, group, workdir = bench_workdir(settings, name)
    return settings, engine, user, group, workdir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--big-gib", type=float, default=2.0, help="0: skip the big file")
    args = parser.parse_args()
    started = start_against_rclone("bench-put")
    if started is None:
        return 1
    settings, engine, user, group, workdir = started
    try:
        small = workdir / "small"
        small.mkdir()
        small_bytes = make_small_files(small, args.files)
        big = workdir / "big"
        big.mkdir()
        big_bytes = make_big_file(big, args.big_gib)
        concurrency = str(16)
        # Cold: the first request after the processors started, a single file, while
        # they join their groups and load their state. Its time is kept apart from the
        # warm figures below, which follow it.
        first = workdir / "first"
        first.mkdir()
        (first / "one.bin").write_bytes(b"first")
        cold = nearline_put(settings, engine, first, user, group)
        print(f"cold start: the first 1-file PUT after a start took {cold:.2f} s")

        with PeakMemory(settings.home) as memory:
            ours = nearline_put(settings, engine, small, user, group)
        theirs = rclone_copy(settings, small, "--transfers", concurrency, "--checkers", concurrency)
        print(
            f"put {args.files} x 4 KiB: nearline {args.files / ours:8.0f} files/s   "
            f"rclone {args.files / theirs:8.0f} files/s   ratio {theirs / ours:.2f} "
            f"(target: keep >= 2.5, warm)"
        )
        print(f"  during it: {memory.report()}")
        if args.big_gib > 0:
            ours = nearline_put(settings, engine, big, user, group)
            theirs = rclone_copy(
                settings, big, "--s3-chunk-size", "64M", "--s3-upload-concurrency", "8"
            )
            print(
                f"put 1 x {args.big_gib:g} GiB:   nearline {big_bytes / ours / MB:8.1f} MB/s    "
                f"rclone {big_bytes / theirs / MB:8.1f} MB/s    ratio {theirs / ours:.2f} "
                f"(target: keep >= 1.5)"
            )
        print(
            f"(small files: {small_bytes / MB:.1f} MB; the nearline figures include "
            "indexing, checksums, cataloging and projection through Kafka)"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        processes.stop(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
