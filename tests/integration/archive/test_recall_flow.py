"""Recalls end to end through the real stack: files PUT, archived, evicted from the cache
and dropped from the tape endpoint's disk buffer (tape only), then brought back by GET and
STAGE through the recall worker (stage, read by offset, verify, put back into the cache)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.pack_keys import slice_of
from events.catalog import FilesRecalled
from events.reports import AggregateOnline
from events.topics import REPORTS
from nearline.requests import RequestLog
from stack import s3, xrootd
from stores.tape.members import TAPE_CORRUPT
from tests.integration.archive.recall_helpers import (
    Recalls,
    archive_evict_and_purge,
    remove,
    restored_files,
    target_folder,
)
from tests.integration.archive.test_archive_flow import regular_files, wait_until
from tests.integration.catalog_queries import wait_for_transaction

MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def _stack_running(settings) -> Iterator[None]:
    yield
    if not xrootd.healthy(settings):
        xrootd.start(settings)
    if not s3.healthy(settings):
        s3.start(settings)


@pytest.fixture
def requests(settings):
    log = RequestLog(settings)
    yield log
    log.close()


@pytest.fixture
def folders():
    made: list[Path] = []
    yield made
    remove(made)


def small_and_large(small: int = 6, large: int = 2, large_bytes: int = 3 * MiB) -> dict[str, bytes]:
    contents = {f"small-{i:02d}.dat": os.urandom(500 + 997 * i) for i in range(small)}
    contents |= {f"large-{i}.bin": os.urandom(large_bytes + i) for i in range(large)}
    contents["empty.dat"] = b""
    return contents


def get_all(requests, users, engine, holding_id, folders, count=1, timeout=180):
    """``count`` GETs of the whole holding at the same time, each into a folder of its own."""
    alice, climate = users["alice"]
    targets = [target_folder(users["alice"]) for _ in range(count)]
    folders.extend(targets)
    sent = []

    def one(target: Path) -> None:
        sent.append(
            requests.get(
                user=alice, group=climate, regex=".*", holding_id=holding_id, target=str(target)
            )
        )

    threads = [threading.Thread(target=one, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = [wait_for_transaction(engine, r.transaction_id, timeout) for r in sent]
    return sent, outcomes, targets


def test_three_gets_of_tape_only_files_stage_each_aggregate_once_and_restore_every_byte(
    settings, engine, producer, tape, put, users, requests, folders
):
    contents = small_and_large()
    holding_id = put(contents)
    names = archive_evict_and_purge(settings, engine, producer, tape, holding_id)

    recalls = Recalls(settings)
    onlines = Recalls(settings, REPORTS, AggregateOnline)
    try:
        sent, outcomes, targets = get_all(requests, users, engine, holding_id, folders, count=3)
        assert [o.state for o in outcomes] == ["COMPLETE"] * 3, outcomes
        ids = [r.transaction_id for r in sent]
        online = onlines.seen(ids)
        # Each GET was restored straight from the staged aggregate (D231); the cache is
        # filled after, one recall fact per GET.
        facts: list[FilesRecalled] = []

        def all_filled() -> bool:
            facts.extend(recalls.seen(ids))
            return len(facts) >= 3 * len(names)

        wait_until(all_filled, what="the cache filled after the GETs")
    finally:
        recalls.close()
        onlines.close()

    for target in targets:  # every file, byte for byte
        restored = restored_files(target)
        assert set(restored) == set(contents)
        for name, data in contents.items():
            assert hashlib.sha256(restored[name]).digest() == hashlib.sha256(data).digest(), name
    # Each aggregate was staged exactly once, though three GETs wanted it at the same time.
    staged = [o.aggregate for o in online if o.staged]
    assert sorted(staged) == sorted(names), online
    assert len(online) == 3 * len(names)
    assert {f.aggregate for f in facts} == names
    assert all(not f.failed for f in facts)
    # The small files came back in one pack per recall: one PUT, not one per file (D180).
    for fact in facts:
        small = [r for r in fact.recalled if 0 < r["size"] < settings.s3.pack_below]
        parts = [slice_of(r["object_key"]) for r in small]
        assert len(small) == 6 and all(parts), fact.recalled
        assert len({p.pack for p in parts if p}) == 1
    # The catalog shows the cache copies again, beside the tape copies.
    wait_until(
        lambda: all(
            set(f["locations"]) == {"OBJECT_STORAGE", "TAPE"}
            for f in regular_files(engine, holding_id).values()
        ),
        what="cache locations after the recall",
    )
    # Every pack a recall made is some cached file's, or removed (D90's lifetime).
    client = s3.client(settings)
    wait_until(
        lambda: packs_under(client, settings, holding_id) <= packs_in_catalog(engine, holding_id),
        what="spare packs removed",
    )


def packs_under(client, settings, holding_id: int) -> set[str]:
    listed = client.list_objects_v2(Bucket=settings.s3.bucket, Prefix=f"h{holding_id}/")
    return {o["Key"] for o in listed.get("Contents", []) if "/pack=" in o["Key"]}


def packs_in_catalog(engine, holding_id: int) -> set[str]:
    keys = [
        f["locations"].get("OBJECT_STORAGE") for f in regular_files(engine, holding_id).values()
    ]
    return {p.pack for key in keys if key and (p := slice_of(key[1]))}


def test_stage_brings_files_into_the_cache_and_a_get_mixing_cached_and_tape_files_works(
    settings, engine, producer, tape, put, users, requests, folders
):
    alice, climate = users["alice"]
    archived = put({"t1.dat": os.urandom(4000), "t2.dat": os.urandom(9000)})
    archive_evict_and_purge(settings, engine, producer, tape, archived)
    cached = put({"c1.dat": os.urandom(3000)})

    # One GET of both holdings: the cached file comes from the cache, the others from tape.
    files = {**regular_files(engine, archived), **regular_files(engine, cached)}
    target = target_folder(users["alice"])
    folders.append(target)
    request = requests.get(user=alice, group=climate, paths=list(files), target=str(target))
    outcome = wait_for_transaction(engine, request.transaction_id, 180)
    assert outcome.state == "COMPLETE", outcome
    assert set(restored_files(target)) == {"t1.dat", "t2.dat", "c1.dat"}

    # STAGE of a holding evicted again: FIND then shows both copies.
    archive_evict_and_purge(settings, engine, producer, tape, archived)
    staged = requests.stage(user=alice, group=climate, regex=".*", holding_id=archived)
    outcome = wait_for_transaction(engine, staged.transaction_id, 180)
    assert outcome.state == "COMPLETE", outcome
    wait_until(
        lambda: all(
            set(f["locations"]) == {"OBJECT_STORAGE", "TAPE"}
            for f in regular_files(engine, archived).values()
        ),
        what="cache locations after STAGE",
    )
    # Both small files came back as slices of one pack: one PUT for the two (D180).
    bucket, client = settings.s3.bucket, s3.client(settings)
    rows = regular_files(engine, archived).values()
    slices = [slice_of(row["locations"]["OBJECT_STORAGE"][1]) for row in rows]
    assert all(slices) and len({part.pack for part in slices if part}) == 1
    for row, part in zip(rows, slices, strict=True):
        assert part is not None and part.size == row["size"]
        pack = client.get_object(
            Bucket=bucket, Key=part.pack, Range=f"bytes={part.offset}-{part.last}"
        )
        assert hashlib.sha256(pack["Body"].read()).hexdigest() == row["checksums"]["SHA256"]


def test_tape_endpoint_down_during_a_recall_is_retried_and_completes_when_back(
    settings, engine, producer, tape, put, users, requests, folders
):
    contents = {"x.dat": os.urandom(5000), "y.dat": os.urandom(7000)}
    holding_id = put(contents)
    archive_evict_and_purge(settings, engine, producer, tape, holding_id)
    alice, climate = users["alice"]
    target = target_folder(users["alice"])
    folders.append(target)

    xrootd.stop(settings)
    try:
        request = requests.get(
            user=alice, group=climate, regex=".*", holding_id=holding_id, target=str(target)
        )
        # While the endpoint is down nothing is reported done and nothing is written.
        with pytest.raises(TimeoutError):
            wait_for_transaction(engine, request.transaction_id, timeout=8)
        assert restored_files(target) == {}
    finally:
        xrootd.start(settings)
    outcome = wait_for_transaction(engine, request.transaction_id, 240)
    assert outcome.state == "COMPLETE", outcome
    assert restored_files(target) == contents


def test_an_aggregate_corrupted_on_tape_fails_its_file_and_never_serves_it(
    settings, engine, producer, tape, put, users, requests, folders
):
    from stack.tape import TapeLayout
    from tests.integration.archive.test_archive_flow import member_offsets
    from tests.integration.tape.helpers import flip_a_byte

    contents = {"good.dat": os.urandom(6000), "bad.dat": os.urandom(6000)}
    holding_id = put(contents)
    (name,) = archive_evict_and_purge(settings, engine, producer, tape, holding_id)
    files = regular_files(engine, holding_id)
    bad = next(f for p, f in files.items() if p.endswith(b"/bad.dat"))
    _aggregate, offset, _size = member_offsets(engine, holding_id)[bad["id"]]
    # A silent corruption: the endpoint's own catalogue agrees with the bad copy, so only
    # the checksums recorded at PUT can catch it.
    layout = TapeLayout.of(settings)
    lfn = f"{tape.root}/{name}".lstrip("/")
    flip_a_byte(layout.media / lfn, offset + 10)
    import zlib

    data = (layout.media / lfn).read_bytes()
    (layout.catalogue / lfn).write_text(f"{zlib.adler32(data):08x} {len(data)}\n")

    alice, climate = users["alice"]
    target = target_folder(users["alice"])
    folders.append(target)
    request = requests.get(
        user=alice, group=climate, regex=".*", holding_id=holding_id, target=str(target)
    )
    outcome = wait_for_transaction(engine, request.transaction_id, 180)
    assert outcome.state == "COMPLETE_WITH_ERRORS", outcome
    assert [r for p, r in outcome.failures.items() if p.endswith(b"/bad.dat")] == [TAPE_CORRUPT]
    assert restored_files(target) == {"good.dat": contents["good.dat"]}
    rows = regular_files(engine, holding_id)
    assert set(rows[bad["path"]]["locations"]) == {"TAPE"}  # never put back into the cache


def test_a_get_from_tape_needs_no_cache_and_the_cache_is_filled_when_it_is_back(
    settings, engine, producer, tape, put, users, requests, folders
):
    contents = {"s.dat": os.urandom(8000)}
    holding_id = put(contents)
    (name,) = archive_evict_and_purge(settings, engine, producer, tape, holding_id)
    alice, climate = users["alice"]
    target = target_folder(users["alice"])
    folders.append(target)

    request = requests.get(
        user=alice, group=climate, regex=".*", holding_id=holding_id, target=str(target)
    )
    # The store goes away once the stage is asked for, during the tape's mount delay: the
    # GET is restored straight from the staged aggregate all the same (D231), and the
    # put-back into the cache after it is retried until the store is back.
    wait_until(lambda: tape.stage_status("-", [name])[name].requested, 60, "the stage")
    s3.stop(settings)
    try:
        outcome = wait_for_transaction(engine, request.transaction_id, 180)
        assert outcome.state == "COMPLETE", outcome
        assert restored_files(target) == contents
        assert set(next(iter(regular_files(engine, holding_id).values()))["locations"]) == {"TAPE"}
    finally:
        s3.start(settings)
    wait_until(
        lambda: all(
            set(f["locations"]) == {"OBJECT_STORAGE", "TAPE"}
            for f in regular_files(engine, holding_id).values()
        ),
        timeout=240,
        what="the cache filled once the store is back",
    )


def test_a_get_of_an_aggregate_still_on_the_endpoints_disk_restores_its_folder_first(
    settings, engine, producer, tape, put, users, requests, folders
):
    """No stage to wait for: the aggregate is online at once, and the files must still
    wait for the GET's folder to be made (its recall is asked for only then, D231)."""
    contents = {"a.dat": os.urandom(3000), "b.dat": os.urandom(70_000)}
    holding_id = put(contents)
    (name,) = archive_evict_and_purge(settings, engine, producer, tape, holding_id, purge=False)
    assert tape.stat(name).online
    alice, climate = users["alice"]
    target = target_folder(users["alice"])
    folders.append(target)
    onlines = Recalls(settings, REPORTS, AggregateOnline)
    try:
        request = requests.get(
            user=alice, group=climate, regex=".*", holding_id=holding_id, target=str(target)
        )
        outcome = wait_for_transaction(engine, request.transaction_id, 120)
        [online] = onlines.seen([request.transaction_id])
    finally:
        onlines.close()
    assert outcome.state == "COMPLETE", outcome
    assert restored_files(target) == contents
    assert (online.aggregate, online.staged) == (name, False)
