"""Acceptance scale, run explicitly (``-m slow``): 2,000 small files and 5 large ones
(64 MiB each, or ``NEARLINE_TEST_LARGE_MIB``) PUT, archived, evicted and dropped from the
tape endpoint's disk buffer, then three GETs of all of them at once. Prints the timings."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from events.reports import AggregateOnline
from events.topics import REPORTS
from nearline.requests import RequestLog
from tests.integration.accounts import chown
from tests.integration.archive.recall_helpers import (
    Recalls,
    archive_evict_and_purge,
    remove,
    target_folder,
)
from tests.integration.archive.test_archive_flow import wait_until
from tests.integration.catalog_queries import wait_for_transaction

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

SMALL, LARGE = 2000, 5
LARGE_MIB = int(os.environ.get("NEARLINE_TEST_LARGE_MIB", "64"))
MiB = 1024 * 1024


def write_files(folder: Path, owner: tuple[str, str]) -> dict[str, str]:
    """The files, owned by ``owner``; their sha256 by name."""
    sums: dict[str, str] = {}
    for i in range(SMALL):
        data = os.urandom(200 + (i * 7919) % 16_000)
        (folder / f"s{i:05d}.dat").write_bytes(data)
        sums[f"s{i:05d}.dat"] = hashlib.sha256(data).hexdigest()
    for i in range(LARGE):
        digest = hashlib.sha256()
        with (folder / f"L{i}.bin").open("wb") as f:
            for _ in range(LARGE_MIB):
                chunk = os.urandom(MiB)
                digest.update(chunk)
                f.write(chunk)
        sums[f"L{i}.bin"] = digest.hexdigest()
    for path in [folder, *folder.iterdir()]:
        chown(path, *owner)
    return sums


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(4 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def test_three_gets_of_2000_small_and_5_large_files_from_tape(
    settings, processors, engine, producer, tape, users
):
    alice, climate = users["alice"]
    folder = Path(tempfile.mkdtemp(prefix="nearline-accept-", dir="/tmp"))
    folder.chmod(0o755)
    targets: list[Path] = []
    log = RequestLog(settings)
    try:
        sums = write_files(folder, users["alice"])
        total = sum(p.stat().st_size for p in folder.iterdir())

        start = time.monotonic()
        put = log.put(
            user=alice, group=climate, paths=[str(folder)], label=f"acc-{uuid.uuid4().hex[:8]}"
        )
        outcome = wait_for_transaction(engine, put.transaction_id, timeout=1800)
        assert outcome.state == "COMPLETE", outcome
        holding_id = outcome.holding_id
        put_s = time.monotonic() - start

        start = time.monotonic()
        names = archive_evict_and_purge(settings, engine, producer, tape, holding_id)
        archive_s = time.monotonic() - start

        recalls = Recalls(settings)
        onlines = Recalls(settings, REPORTS, AggregateOnline)
        targets = [target_folder(users["alice"]) for _ in range(3)]
        sent = []
        start = time.monotonic()

        def get(target: Path) -> None:
            sent.append(
                log.get(
                    user=alice, group=climate, regex=".*", holding_id=holding_id, target=str(target)
                )
            )

        threads = [threading.Thread(target=get, args=(t,)) for t in targets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        outcomes = [wait_for_transaction(engine, r.transaction_id, 1800) for r in sent]
        get_s = time.monotonic() - start
        assert [o.state for o in outcomes] == ["COMPLETE"] * 3, outcomes
        ids = [r.transaction_id for r in sent]
        online = onlines.seen(ids)
        onlines.close()
        # The GETs were restored straight from the staged aggregates; the cache is filled
        # after each sub-batch (D231): one recall fact each.
        facts: list = []

        def all_filled() -> bool:
            facts.extend(recalls.seen(ids))
            return len(facts) >= len(online)

        wait_until(all_filled, 600, "the cache filled after the GETs")
        filled_s = time.monotonic() - start
        recalls.close()

        for target in targets:
            restored = {p.name: p for p in target.rglob("*") if p.is_file()}
            assert set(restored) == set(sums)
            assert {name: sha256_of(p) for name, p in restored.items()} == sums
        staged = sorted(o.aggregate for o in online if o.staged)
        assert staged == sorted(names)
        assert all(not f.failed for f in facts)

        print(
            f"\nacceptance: {SMALL} small + {LARGE} x {LARGE_MIB} MiB = {total / MiB:.0f} MiB; "
            f"PUT {put_s:.1f} s; archive+evict+purge {archive_s:.1f} s "
            f"({len(names)} aggregates); three concurrent GETs from tape {get_s:.1f} s "
            f"({3 * total / MiB / get_s:.1f} MiB/s restored), the cache filled again after "
            f"{filled_s:.1f} s; stages: {len(staged)} "
            f"for {len(names)} aggregates; recall facts: {len(facts)}"
        )
    finally:
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
        remove(targets)
