"""The catalog decider's memory and cold start with one user of very many files.

Synthetic catalog facts for one user are written once to a fresh one-partition topic:
PUTs of 1,000 files each (the decider's sub-batch size) into holdings of 100,000 files,
N files in all (default 5,000,000). Then, each in a fresh process, as a restarted
decider would:
- ``first``: the fold built from the whole log into a new store (the first start ever);
- ``restart``: the fold read from that store, then one PUT of one file decided to its
  cataloging, and the store saved; the time from the start of the process to the PUT's
  files reserved is the PUT's wait after a restart;
- ``memory`` (side by side, at --memory-files, default a tenth of N): the same log folded
  with every file held in memory and never saved, as the decider did before D190.
Peak resident memory of each process is its ``ru_maxrss``. Targets (issue 16): RSS under
400 MiB, cold start under 30 s, a 1-file PUT after a restart under 2 s.

    python -m bench.decider [--files 5000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

started = time.perf_counter()

from confluent_kafka.admin import NewTopic  # noqa: E402 (the clock starts first)

from events.base import Event  # noqa: E402
from events.codec import encode  # noqa: E402
from events.reports import FilesIndexed, FilesTransferred  # noqa: E402
from events.requests import PutRequested  # noqa: E402
from nearline import bus  # noqa: E402
from nearline.settings import Settings  # noqa: E402

try:
    from bench import synthetic
except ImportError:  # run as a script: its own folder comes first on the path
    import synthetic  # type: ignore[no-redef]

USER = "bench-user"
BATCH = 1000
PER_HOLDING = 100_000
MIB = 1024 * 1024


def envelope(tx: str, step: str) -> dict:
    return synthetic.envelope(tx, step, USER, 1_700_000_000_000)


def put_facts(n: int) -> list[Event]:
    """The facts of the n-th PUT of 1,000 files."""
    tx = str(uuid.UUID(int=n + 1))
    holding = n * BATCH // PER_HOLDING + 1  # partition 0 of 1: ids 1, 2, ...
    path = b"/data/run%d/d%04d/f%07d.nc"
    files = [
        synthetic.file_entry(path % (holding, n % 10_000, n * BATCH + i), 4096, 1)
        for i in range(BATCH)
    ]
    keys = [f"pack-{n}#{4096 * i}+4096" for i in range(BATCH)]
    return synthetic.put_facts(
        tx,
        USER,
        holding,
        f"run{holding}",
        files,
        keys,
        1_700_000_000_000,
        new_holding=n * BATCH % PER_HOLDING == 0,
    )


def write_topic(settings: Settings, topic: str, files: int) -> int:
    producer = bus.producer(settings, **{"linger.ms": 50})
    written = 0
    for n in range(max(1, files // BATCH)):
        for fact in put_facts(n):
            while True:
                try:
                    producer.produce(topic, key=USER.encode(), value=encode(fact), partition=0)
                    break
                except BufferError:
                    producer.poll(0.1)
            written += 1
        producer.poll(0)
    if producer.flush(300):
        raise RuntimeError("the bench topic was not written")
    return written


# -- the measured processes ------------------------------------------------------------


def child(mode: str, topic: str, home: Path, limit: int) -> dict:
    from processors.catalog.decider import Decider
    from processors.catalog.loading import fold, load
    from processors.catalog.state import CatalogState

    settings = Settings(home=home)
    if mode == "memory":
        state = CatalogState(0, 1)
        consumer = bus.consumer(settings, group="nearline-bench-decider")
        try:
            fold(consumer, state, topic, limit, save=False)  # as before D190
        finally:
            consumer.close()
        loaded = time.perf_counter() - started
        return {"load_s": loaded, "rss_mib": peak_rss(), "files": len(state.files)}
    state = load(settings, 0, topic, until=limit or None)
    loaded = time.perf_counter() - started
    result = {"load_s": loaded, "rss_mib": peak_rss(), "files": state.offset // 4 * BATCH}
    if mode == "restart":
        decider = Decider(state)
        tx = str(uuid.uuid4())
        decider.handle(
            PutRequested(
                **envelope(tx, "requested"),
                label="after-restart",
                holding_id=None,
                tags={},
                paths=[b"/data/new"],
                path_list_file=None,
                job_label="bench",
                api_action="put",
            )
        )
        holding = state.labels[(USER, "after-restart")]
        new = {
            "path": b"/data/new/file",
            "path_type": "FILE",
            "link_path": None,
            "size": 1,
            "mode": 0o100644,
            "uid": 1000,
            "gid": 1000,
            "mtime_ns": 1,
        }
        decider.handle(
            FilesIndexed(
                **envelope(tx, "indexed/0"),
                holding_id=holding,
                sub_batch=0,
                last=True,
                files=[new],  # type: ignore[list-item]
                rejected=[],
            )
        )
        result["put_reserved_s"] = time.perf_counter() - started
        decider.handle(
            FilesTransferred(
                **envelope(tx, "transferred/0"),
                holding_id=holding,
                sub_batch=0,
                stored=[
                    {
                        "path": b"/data/new/file",
                        "object_key": "k",
                        "size": 1,
                        "adler32": "00000001",
                        "sha256": "0" * 64,
                    }
                ],
                failed=[],
            )
        )
        state.checkpoint()
        result["put_cataloged_s"] = time.perf_counter() - started
        result["rss_mib"] = peak_rss()
    state.store.close()
    return result


def peak_rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(mode: str, topic: str, home: Path, limit: int) -> dict:
    command = [sys.executable, "-m", "bench.decider", "--child", mode, "--topic", topic]
    command += ["--home", str(home), "--limit", str(limit)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5_000_000)
    parser.add_argument("--memory-files", type=int, default=0, help="default: files / 10")
    parser.add_argument("--child", choices=["first", "restart", "memory"], help="internal")
    parser.add_argument("--topic", default="")
    parser.add_argument("--home", type=Path)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.topic, args.home, args.limit)))
        return

    settings = Settings()
    topic = f"bench.decider.{uuid.uuid4().hex[:8]}"
    admin = bus.admin(settings)
    admin.create_topics([NewTopic(topic, num_partitions=1)])[topic].result()
    try:
        began = time.perf_counter()
        facts = write_topic(settings, topic, args.files)
        print(f"wrote {facts:,} facts of {args.files:,} files to {topic} in ", end="")
        print(f"{time.perf_counter() - began:.0f}s")
        with tempfile.TemporaryDirectory(prefix="nearline-bench-decider-") as home:
            first = run_child("first", topic, Path(home), 0)
            print(
                f"first start (fold the whole log into the store): {first['load_s']:.1f}s, ", end=""
            )
            print(f"peak RSS {first['rss_mib']:.0f} MiB")
            size = sum(p.stat().st_size for p in Path(home, "state").iterdir()) / MIB
            print(f"store on disk: {size:.0f} MiB")
            again = run_child("restart", topic, Path(home), 0)
            print(f"cold start after a restart: {again['load_s']:.2f}s (target < 30 s)")
            print(
                f"1-file PUT after a restart: files reserved {again['put_reserved_s']:.2f}s, ",
                end="",
            )
            print(f"cataloged and saved {again['put_cataloged_s']:.2f}s after the process started")
            print(f"   (target < 2 s); peak RSS {again['rss_mib']:.0f} MiB (target < 400 MiB)")
        puts = max(1, (args.memory_files or args.files // 10) // BATCH)
        prefix = 4 * puts + -(-puts * BATCH // PER_HOLDING)  # the facts of the first PUTs
        with tempfile.TemporaryDirectory(prefix="nearline-bench-decider-") as home:
            memory = run_child("memory", topic, Path(home), prefix)
            # The same prefix of the log into a store, for the side-by-side ratio.
            stored_small = run_child("first", topic, Path(home), prefix)
        ratio = memory["rss_mib"] / stored_small["rss_mib"]
        print(
            f"side by side, {memory['files']:,} files: all in memory {memory['rss_mib']:.0f} MiB "
            f"in {memory['load_s']:.1f}s; in the store {stored_small['rss_mib']:.0f} MiB in "
            f"{stored_small['load_s']:.1f}s (memory ratio {ratio:.2f})"
        )
    finally:
        admin.delete_topics([topic])[topic].result()


if __name__ == "__main__":
    main()
