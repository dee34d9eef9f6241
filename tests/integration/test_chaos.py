"""Chaos: while 20,000 files are PUT and then archived, nearline's processors are
SIGKILLed at random moments (at least 20 times) and restarted. Afterwards every file must
be cataloged once, stored once in S3 and once on tape, and a replay of the log must
reproduce the live catalog exactly.

Bounded in time, loopback only. Slow: ``make chaos``. It prints its numbers.
"""

from __future__ import annotations

import os
import random
import signal
import tarfile
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

import admin.commands  # noqa: F401  (registers the admin commands on the app)
from admin import processes
from admin.app import app
from nearline import bus
from nearline.requests import RequestLog
from processors.sweeper.passes import archive_sweep
from processors.sweeper.wiring import ProjectionReads
from projections import tables as t
from projections.db import make_engine
from stack import s3
from stack.tape import TapeLayout
from tests.integration.cached_copies import check_stored_once
from tests.integration.catalog_queries import TERMINAL, holding_files, wait_for_transaction
from tests.integration.test_put_recovery import many_files, workdir  # noqa: F401

pytestmark = pytest.mark.slow

FILES = 20_000
KILLS = 20
VICTIMS = ["catalog", "indexer", "transfer-put", "transfer-put-2", "projections"]
ARCHIVE_VICTIMS = ["catalog", "archive-put", "projections"]
ARCHIVE_KILLS = 6


def kill_and_restart(settings, env, victim: str, pause: float) -> bool:
    pid = processes.daemon(settings, victim, env).pid()
    if pid is not None:
        os.killpg(pid, signal.SIGKILL)
    time.sleep(pause)
    processes.start(settings, [victim], env=env, log=lambda _line: None)
    return pid is not None


def on_tape(engine, holding_id: int) -> int:
    """Files of the holding with a tape copy, as the catalog shows them."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(t.locations.join(t.files, t.files.c.id == t.locations.c.file_id))
            .where((t.files.c.holding_id == holding_id) & (t.locations.c.storage_type == "TAPE"))
        ).scalar_one()


def tape_copies(settings, holding_id: int) -> Counter[str]:
    """How many times each member name is on the tape endpoint, over every aggregate
    file of the holding (disk buffer or tape media, each aggregate counted once)."""
    layout = TapeLayout.of(settings)
    relative = Path(settings.tape.root.lstrip("/")) / f"h{holding_id}"
    aggregates: dict[str, Path] = {}
    for top in (layout.media, layout.buffer):  # the buffer copy is the same file
        folder = top / relative
        if folder.is_dir():
            for path in folder.glob("*.tar"):
                aggregates.setdefault(path.name, path)
    copies: Counter[str] = Counter()
    for path in aggregates.values():
        with tarfile.open(path) as tar:
            copies.update(m.name for m in tar.getmembers() if m.isfile())
    return copies


def transaction_state(engine, transaction_id: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(t.status_transactions.c.state).where(
                t.status_transactions.c.transaction_id == transaction_id
            )
        ).scalar()


def test_processors_killed_at_random_lose_and_double_nothing(
    settings,
    processors,
    users,
    catalog_url,
    workdir,  # noqa: F811
):
    alice, climate = users["alice"]
    chance = random.Random(int(os.environ.get("NEARLINE_CHAOS_SEED", "20261121")))
    roots = []
    expected: set[bytes] = set()
    for part in range(4):  # four PUTs of 5,000, so kills land in every phase of a PUT
        root = workdir / f"part{part}"
        root.mkdir()
        expected |= many_files(root, FILES // 4, (alice, climate))
        roots.append(root)
    engine = make_engine(catalog_url)
    requests = RequestLog(settings)
    label = f"chaos-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    submitted = []
    kills: Counter[str] = Counter()
    try:
        for root in roots:
            submitted.append(
                requests.put(user=alice, group=climate, paths=[str(root)], label=label)
            )
            # Kill while the PUTs run, at random moments and random processors.
            for _ in range(KILLS // len(roots)):
                time.sleep(chance.uniform(0.5, 4.0))
                victim = chance.choice(VICTIMS)
                pid = processes.daemon(settings, victim, processors).pid()
                if pid is not None:
                    os.killpg(pid, signal.SIGKILL)
                    kills[victim] += 1
                time.sleep(chance.uniform(0.0, 1.5))
                processes.start(settings, [victim], env=processors, log=lambda _line: None)
        while sum(kills.values()) < KILLS:  # the PUTs may have been quick
            victim = chance.choice(VICTIMS)
            pid = processes.daemon(settings, victim, processors).pid()
            if pid is not None:
                os.killpg(pid, signal.SIGKILL)
                kills[victim] += 1
            processes.start(settings, [victim], env=processors, log=lambda _line: None)
            time.sleep(chance.uniform(0.5, 2.0))
        requests.close()

        outcomes = [wait_for_transaction(engine, r.transaction_id, 900) for r in submitted]
        elapsed = time.monotonic() - started
        assert all(o.state == "COMPLETE" for o in outcomes), outcomes
        assert all(transaction_state(engine, r.transaction_id) in TERMINAL for r in submitted)
        holding_id = outcomes[0].holding_id
        files = holding_files(engine, holding_id)
        assert set(files) == expected
        with engine.connect() as conn:
            rows = conn.execute(
                select(func.count()).select_from(t.files).where(t.files.c.holding_id == holding_id)
            ).scalar_one()
        assert rows == len(files), "a file was cataloged more than once"
        copies = [
            (f["locations"]["OBJECT_STORAGE"][1], f["size"])
            for f in files.values()
            if f["path_type"] == "FILE"
        ]
        assert len(copies) == FILES
        client = s3.client(settings)
        objects = check_stored_once(client, settings.s3.bucket, copies)
        print(
            f"\nchaos: {FILES:,} files in {len(submitted)} PUTs, {sum(kills.values())} SIGKILLs "
            f"({', '.join(f'{v} {n}' for v, n in sorted(kills.items()))}), "
            f"all COMPLETE in {elapsed:.0f} s; {rows:,} catalog rows, {objects:,} objects"
        )

        # Archive the holding while the decider, archive-put and the projection die.
        producer = bus.producer(settings)
        archive_kills: Counter[str] = Counter()
        started = time.monotonic()
        sweeps, last_sweep = 0, 0.0
        while on_tape(engine, holding_id) < FILES:
            assert time.monotonic() - started < 900, "the archive never completed"
            if time.monotonic() - last_sweep > 30:
                # A sweep leaves out files in flight; one after a failure takes them again.
                archive_sweep(settings, ProjectionReads(engine), producer, [holding_id])
                producer.flush(15)
                sweeps += 1
                last_sweep = time.monotonic()
            if sum(archive_kills.values()) < ARCHIVE_KILLS:
                time.sleep(chance.uniform(0.5, 3.0))
                victim = chance.choice(ARCHIVE_VICTIMS)
                if kill_and_restart(settings, processors, victim, chance.uniform(0.0, 1.0)):
                    archive_kills[victim] += 1
            else:
                time.sleep(1)
        archived_in = time.monotonic() - started
        copies = tape_copies(settings, holding_id)
        expected_names = {
            os.fsdecode(p).lstrip("/") for p, f in files.items() if f["path_type"] == "FILE"
        }
        # (Aggregates of other runs may share the holding's folder: only ours count.)
        assert {copies[name] for name in expected_names} == {1}, "missing or doubled on tape"

        # The log alone rebuilds the live catalog.
        replay = CliRunner().invoke(app, ["replay", "all", "--database", catalog_url])
        assert replay.exit_code == 0, replay.output
        assert "\nidentical\n" in replay.output, replay.output
        print(
            f"chaos: archived {FILES:,} files in {archived_in:.0f} s over {sweeps} sweeps, "
            f"{sum(archive_kills.values())} more SIGKILLs "
            f"({', '.join(f'{v} {n}' for v, n in sorted(archive_kills.items()))}); "
            f"each file once on tape; replay identical to the live catalog"
        )
    finally:
        engine.dispose()
        processes.start(settings, VICTIMS + ARCHIVE_VICTIMS, env=processors, log=lambda _line: None)
