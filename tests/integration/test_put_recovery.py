"""PUTs under stress: a processor SIGKILLed in the middle of a 10,000-file PUT and
restarted, and many PUTs at once from several users. Every file must end cataloged once
and stored once."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from admin import processes
from nearline.requests import RequestLog
from projections import tables as t
from stack import s3
from tests.integration.accounts import chown
from tests.integration.cached_copies import check_stored_once
from tests.integration.catalog_queries import holding_files, wait_for_transaction


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="nearline-recovery-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def many_files(root: Path, count: int, owner: tuple[str, str]) -> set[bytes]:
    """``count`` small files in folders of 100; returns every path that must be stored."""
    expected = {os.fsencode(root)}
    for n in range(count):
        folder = root / f"d{n // 100:03d}"
        if n % 100 == 0:
            folder.mkdir()
            expected.add(os.fsencode(folder))
        path = folder / f"f{n:05d}.dat"
        path.write_bytes(b"%d " % n * 20)
        expected.add(os.fsencode(path))
    for path in expected:
        chown(path, *owner)
    return expected


def sub_batches_done(engine, transaction_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(t.status_sub_records)
            .where(
                (t.status_sub_records.c.transaction_id == transaction_id)
                & (t.status_sub_records.c.state.in_(["COMPLETE", "COMPLETE_WITH_ERRORS"]))
            )
        ).scalar_one()


@pytest.mark.parametrize("victim", ["catalog", "indexer", "transfer-put", "projections"])
def test_a_processor_killed_mid_put_loses_and_doubles_nothing(
    victim, settings, processors, users, engine, workdir
):
    alice, climate = users["alice"]
    root = workdir / "ten-thousand"
    root.mkdir()
    expected = many_files(root, 10_000, (alice, climate))
    requests = RequestLog(settings)
    request = requests.put(
        user=alice, group=climate, paths=[str(root)], label=f"crash-{victim}-{uuid.uuid4().hex[:6]}"
    )
    requests.close()

    # Wait until the PUT is under way (or, for the indexer, has just begun), then kill.
    deadline = time.monotonic() + 120
    wanted = 0 if victim == "indexer" else 2
    while sub_batches_done(engine, request.transaction_id) < wanted:
        assert time.monotonic() < deadline, "the PUT never got going"
        time.sleep(0.05)
    daemon = processes.daemon(settings, victim, processors)
    pid = daemon.pid()
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    time.sleep(1)
    processes.start(settings, [victim], env=processors, log=lambda _line: None)

    outcome = wait_for_transaction(engine, request.transaction_id, timeout=600)
    assert outcome.state == "COMPLETE", outcome
    files = holding_files(engine, outcome.holding_id)
    assert set(files) == expected
    with engine.connect() as conn:
        rows = conn.execute(
            select(func.count())
            .select_from(t.files)
            .where(t.files.c.holding_id == outcome.holding_id)
        ).scalar_one()
    assert rows == len(expected)  # cataloged once
    copies = [
        (f["locations"]["OBJECT_STORAGE"][1], f["size"])
        for f in files.values()
        if f["path_type"] == "FILE"
    ]
    assert len(copies) == 10_000
    client = s3.client(settings)
    check_stored_once(client, settings.s3.bucket, copies)


def test_many_puts_at_once_from_several_users_all_complete(
    settings, processors, users, engine, workdir
):
    owners = [users["alice"], users["bob"]]
    trees = []
    for n in range(12):
        owner = owners[n % 2]
        root = workdir / f"tree{n:02d}"
        root.mkdir()
        trees.append((owner, root, many_files(root, 50, owner)))
    requests = RequestLog(settings)
    labels = {n: f"busy-{uuid.uuid4().hex[:6]}" for n in range(len(trees))}

    def submit(n: int):
        (user, group), root, _ = trees[n]
        # Half the PUTs go into the same two holdings: adds to one holding interleave.
        label = labels[n] if n < 6 else f"shared-{user}-{labels[0]}"
        return requests.put(user=user, group=group, paths=[str(root)], label=label)

    with ThreadPoolExecutor(8) as pool:
        submitted = list(pool.map(submit, range(len(trees))))
    requests.close()

    for n, request in enumerate(submitted):
        outcome = wait_for_transaction(engine, request.transaction_id, timeout=300)
        assert outcome.state == "COMPLETE", (n, outcome)
        files = holding_files(engine, outcome.holding_id)
        assert trees[n][2] <= set(files)
