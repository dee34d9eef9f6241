"""GET throughput through the local stack, next to `rclone copy` of the same objects out of
the same S3 server, in the same run.

Two data sets, PUT first: many files of 4 KiB (files/s) and one large file (MB/s).
nearline's time runs from the GET being recorded to its COMPLETE state: selection from
the catalog, planning, download with sha256 verification, restoring mode, mtime and
owner, reports and projection, all through Kafka. rclone's is its copy command (no
verification against a catalog, no metadata restored) of the same files, uploaded by
rclone beforehand as one object each. Each is run ``--rounds`` times, alternated, and the
medians are compared (the machine's noise moves either by half between runs a minute apart).

    python -m bench.get [--files 2000] [--big-mib 512] [--rounds 3]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

from admin import processes
from bench.put import (
    MB,
    final_state,
    make_big_file,
    make_small_files,
    nearline_put,
    request_log,
    run_rclone,
    start_against_rclone,
)
from nearline.settings import Settings
from stack.demo import hand_over


def nearline_get(
    settings: Settings, engine, path: Path, target: Path, user: str, group: str
) -> float:
    hand_over(target, user)
    requests = request_log(settings)  # warm, as the API's is
    start = time.perf_counter()
    request = requests.get(
        user=user,
        group=group,
        regex="^" + re.escape(str(path)) + "(/|$)",
        target=str(target),
        api_action="get",
    )
    state = final_state(engine, request.transaction_id)
    elapsed = time.perf_counter() - start
    if state != "COMPLETE":
        raise SystemExit(f"nearline GET ended {state}")
    return elapsed


def rclone_objects(settings: Settings, folder: Path) -> str:
    """The files of ``folder`` uploaded by rclone, one object each, as a plain S3 copy
    holds them (nearline packs small files, D90); their prefix."""
    prefix = f"bench-get/{uuid.uuid4().hex}"
    rclone(settings, "copy", str(folder), f"bench:{settings.s3.bucket}/{prefix}")
    return prefix


def rclone(settings: Settings, *command: str) -> None:
    run_rclone(settings, *command, "--transfers", "16")


def rclone_download(settings: Settings, prefix: str, target: Path, *extra: str) -> float:
    """rclone copy of every object under ``prefix`` into ``target``."""
    start = time.perf_counter()
    run_rclone(settings, "copy", f"bench:{settings.s3.bucket}/{prefix}", str(target), *extra)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--big-mib", type=float, default=512)
    parser.add_argument("--rounds", type=int, default=3, help="nearline and rclone, alternated")
    args = parser.parse_args()
    started = start_against_rclone("bench-get")
    if started is None:
        return 1
    settings, engine, user, group, workdir = started
    try:
        small = workdir / "small"
        small.mkdir()
        make_small_files(small, args.files)
        big = workdir / "big"
        big.mkdir()
        big_bytes = make_big_file(big, args.big_mib / 1024)
        time.sleep(5)  # let the processors settle into their partitions
        nearline_put(settings, engine, small, user, group)
        nearline_put(settings, engine, big, user, group)
        concurrency = "16"  # as many downloads at once as a transfer-get worker makes

        for name, folder in (("small", small), ("big", big)):
            prefix = rclone_objects(settings, folder)
            ours: list[float] = []
            theirs: list[float] = []
            try:
                for round_ in range(args.rounds):  # alternated: both see the same machine
                    ours_target = workdir / f"{name}-nearline-{round_}"
                    theirs_target = workdir / f"{name}-rclone-{round_}"
                    ours_target.mkdir()
                    ours.append(nearline_get(settings, engine, folder, ours_target, user, group))
                    theirs.append(
                        rclone_download(
                            settings,
                            prefix,
                            theirs_target,
                            "--transfers",
                            concurrency,
                            "--checkers",
                            "8",
                        )
                    )
                    shutil.rmtree(ours_target, ignore_errors=True)
                    shutil.rmtree(theirs_target, ignore_errors=True)
            finally:
                rclone(settings, "purge", f"bench:{settings.s3.bucket}/{prefix}")
            ratios = " ".join(f"{t / o:.2f}" for o, t in zip(ours, theirs, strict=True))
            ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
            if name == "small":
                print(
                    f"get {args.files} x 4 KiB: nearline {args.files / ours_s:8.0f} files/s   "
                    f"rclone {args.files / theirs_s:8.0f} files/s   ratio "
                    f"{theirs_s / ours_s:.2f}  (medians of {args.rounds}; rounds {ratios})"
                )
            else:
                print(
                    f"get 1 x {args.big_mib:g} MiB:  nearline {big_bytes / ours_s / MB:8.1f} MB/s"
                    f"    rclone {big_bytes / theirs_s / MB:8.1f} MB/s    ratio "
                    f"{theirs_s / ours_s:.2f}  (medians of {args.rounds}; rounds {ratios})"
                )
        print(
            "(nearline's figures include selection, sha256 verification, metadata and the "
            "status through Kafka)"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        processes.stop(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
