"""System errors are retried through the retry topic: with the object store down during
a PUT, the sub-batch waits out growing delays (STAT shows the retries), the partition
stays free, and the PUT completes once the store is back."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from nearline.requests import RequestLog
from projections import tables as t
from projections.db import make_engine
from stack import s3
from tests.integration.accounts import chown
from tests.integration.catalog_queries import holding_files, wait_for_transaction


def retries_of(engine, transaction_id: str) -> int:
    with engine.connect() as conn:
        counts = conn.execute(
            select(t.status_sub_records.c.retries).where(
                t.status_sub_records.c.transaction_id == transaction_id
            )
        ).scalars()
        return max(counts, default=0)


def test_a_put_outlives_the_object_store_being_down(settings, processors, users, catalog_url):
    alice, climate = users["alice"]
    folder = Path(tempfile.mkdtemp(prefix="nearline-retry-", dir="/tmp"))
    folder.chmod(0o755)
    (folder / "data.bin").write_bytes(os.urandom(50_000))
    for path in (folder, folder / "data.bin"):
        chown(os.fsencode(path), alice, climate)
    engine = make_engine(catalog_url)
    try:
        # The object store goes down, then a PUT arrives.
        s3.stop(settings)
        requests = RequestLog(settings)
        request = requests.put(user=alice, group=climate, paths=[str(folder)])
        requests.close()

        # Its sub-batch is retried: STAT's sub-record counts the retries.
        deadline = time.monotonic() + 90
        while retries_of(engine, request.transaction_id) < 2:
            assert time.monotonic() < deadline, "no retry was recorded"
            time.sleep(0.5)

        # The store comes back: the PUT completes with its file in the store.
        s3.start(settings)
        outcome = wait_for_transaction(engine, request.transaction_id, timeout=180)
        assert outcome.state == "COMPLETE", outcome
        files = holding_files(engine, outcome.holding_id)
        stored = files[os.fsencode(folder / "data.bin")]
        assert stored["locations"]["OBJECT_STORAGE"][0] == settings.s3.bucket
        assert retries_of(engine, request.transaction_id) >= 2
    finally:
        if not s3.healthy(settings):
            s3.start(settings)
        engine.dispose()
        shutil.rmtree(folder)
