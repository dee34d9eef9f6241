"""SIGTERM to the transfer-put workers in the middle of a PUT of a few thousand small
files: they exit by themselves, and after a restart every file is cataloged once and
stored once."""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from admin import processes
from domain.object_keys import key_prefix
from domain.pack_keys import pack_of
from events.topics import TRANSFER_PUT
from nearline.daemons import group_alive
from nearline.observe.lag import group_states
from nearline.requests import RequestLog
from projections import tables as t
from projections.db import make_engine
from stack import s3
from tests.integration.accounts import chown
from tests.integration.catalog_queries import holding_files, wait_for_transaction
from tests.integration.ops.conftest import wait_until
from tests.integration.ops.test_lag_and_metrics import metric

FILES = 3000
TRANSFER = ("transfer-put", "transfer-put-2")


@pytest.fixture
def small_batches(workers):
    """The decider cuts sub-batches of 100 files, so a PUT is many units of work."""
    workers.stop("catalog")
    processes.daemon(
        workers.settings,
        "catalog",
        workers.env_of("catalog") | {"NEARLINE_INDEX__MAX_FILES": "100"},
    ).start()
    wait_until(lambda: _ready(workers, "catalog"), 90, "catalog ready")
    yield
    workers.stop("catalog")
    workers.start("catalog")


def _ready(workers, name: str) -> bool:
    from tests.integration.ops.conftest import ready

    return ready(workers.ports[name])


def transfers_done(workers) -> float:
    """Sub-batches the running transfer-put instances have stored."""
    total = 0.0
    for name in TRANSFER:
        if _ready(workers, name):
            scraped = workers.metrics(name)
            total += metric(scraped, "nearline_events_processed_total", type="TransferPutRequested")
    return total


@pytest.mark.slow
def test_sigterm_mid_put_loses_nothing_and_stores_nothing_twice(
    settings, workers, users, catalog_url, small_batches
):
    alice, climate = users["alice"]
    root = Path("/tmp") / f"nearline-sigterm-{uuid.uuid4().hex[:8]}"
    root.mkdir(mode=0o755)
    engine = make_engine(catalog_url)
    requests = RequestLog(settings)
    try:
        for i in range(FILES):
            (root / f"f{i:05d}.dat").write_bytes(b"%05d " % i + os.urandom(64))
        for path in [root, *root.iterdir()]:
            chown(os.fsencode(path), alice, climate)

        # The workers may have handled other PUTs already: count from here.
        before = transfers_done(workers)
        request = requests.put(
            user=alice, group=climate, paths=[str(root)], label=f"term-{uuid.uuid4().hex[:6]}"
        )
        wait_until(
            lambda: transfers_done(workers) >= before + 3, 120, "the first sub-batches stored"
        )

        # One after the other: an instance stopped while the other's departure is still
        # rebalancing the group may stay a member until the broker expires it.
        took = []
        for name in TRANSFER:
            pid = processes.daemon(settings, name).pid()
            assert pid is not None
            os.killpg(pid, signal.SIGTERM)
            stopped = time.monotonic()
            wait_until(lambda pid=pid: not group_alive(pid), 60, f"{name} to exit")
            took.append(time.monotonic() - stopped)
            if name == TRANSFER[0]:  # the other takes over its partitions and goes on
                wait_until(lambda: _ready(workers, TRANSFER[1]), 60, "the rebalance")
                done = transfers_done(workers)
                wait_until(lambda d=done: transfers_done(workers) > d, 60, "more stored")
        # Each left its group as it stopped.
        wait_until(
            lambda: group_states(settings, ["nearline-transfer-put"])[0].members == 0,
            5,
            "the group to empty",
        )
        (state,) = group_states(settings, ["nearline-transfer-put"])
        backlog = sum(p.lag for p in state.partitions if p.topic == TRANSFER_PUT)
        assert backlog > 0, "the PUT finished before the workers stopped: nothing was tested"
        for name in TRANSFER:
            workers.start(name)
        outcome = wait_for_transaction(engine, request.transaction_id, timeout=300)
        assert outcome.state == "COMPLETE", outcome

        files = holding_files(engine, outcome.holding_id)
        wanted = {os.fsencode(root / f"f{i:05d}.dat") for i in range(FILES)}
        assert wanted <= set(files) and len(files) == FILES + 1  # and the folder
        with engine.connect() as conn:
            rows, paths = conn.execute(
                select(func.count(), func.count(t.files.c.path.distinct())).where(
                    t.files.c.holding_id == outcome.holding_id
                )
            ).one()
        assert rows == paths == FILES + 1  # cataloged once

        bucket = s3.client(settings)
        prefix = key_prefix(outcome.holding_id, request.transaction_id)
        keys: list[str] = []
        for page in bucket.get_paginator("list_objects_v2").paginate(
            Bucket=settings.s3.bucket, Prefix=prefix
        ):
            keys += [o["Key"] for o in page.get("Contents", [])]
        # Stored once: the bucket holds only the objects the catalog names, small files in
        # packs (D90) whose keys follow from their content, so a repeat adds none.
        named = {files[p]["locations"]["OBJECT_STORAGE"][1] for p in wanted}
        assert len(named) == FILES
        assert len(keys) == len(set(keys)) and set(keys) == {pack_of(k) or k for k in named}
        print(f"SIGTERM: workers exited in {took[0]:.1f}s and {took[1]:.1f}s, {backlog} pending")
    finally:
        for name in TRANSFER:  # whatever happened, later tests find them running
            workers.start(name)
        requests.close()
        engine.dispose()
        shutil.rmtree(root, ignore_errors=True)
