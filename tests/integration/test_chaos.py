"""Chaos: while 20,000 files are PUT, nearline's processors are SIGKILLed at random
moments (at least 20 times) and restarted. Afterwards every file must be cataloged once
and stored once.

Bounded in time, loopback only. Slow: ``make chaos``. It prints its numbers.
"""

from __future__ import annotations

import os
import random
import signal
import time
import uuid
from collections import Counter

import pytest
from sqlalchemy import func, select

from nearline import processes
from nearline.requests import RequestLog
from projections import tables as t
from projections.db import make_engine
from tests.integration.catalog_queries import TERMINAL, holding_files, wait_for_transaction
from tests.integration.test_put_recovery import many_files, objects_under, workdir  # noqa: F401

pytestmark = pytest.mark.slow

FILES = 20_000
KILLS = 20
VICTIMS = ["catalog", "indexer", "transfer-put", "transfer-put-2", "projections"]


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
        stored = {
            f["locations"]["OBJECT_STORAGE"][1] for f in files.values() if f["path_type"] == "FILE"
        }
        assert len(stored) == FILES
        in_s3 = [k for k in objects_under(settings, f"h{holding_id}/") if k in stored]
        assert len(in_s3) == len(set(in_s3)) == FILES, "an object is missing or doubled"
        print(
            f"\nchaos: {FILES:,} files in {len(submitted)} PUTs, {sum(kills.values())} SIGKILLs "
            f"({', '.join(f'{v} {n}' for v, n in sorted(kills.items()))}), "
            f"all COMPLETE in {elapsed:.0f} s; {rows:,} catalog rows, {len(in_s3):,} objects"
        )
    finally:
        engine.dispose()
        processes.start(settings, VICTIMS, env=processors, log=lambda _line: None)
