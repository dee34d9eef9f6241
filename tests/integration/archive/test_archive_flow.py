"""Archive and eviction end to end through the real stack: PUT → archive sweep → decider
→ archive-put → decider → projection, and the eviction policy → evict worker → decider."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import TopicPartition
from sqlalchemy import select

from api.nlds import render as nlds_render
from api.v1 import render as v1_render
from domain.access import Scope
from events.catalog import FilesArchived, FilesEvicted
from events.codec import decode
from events.topics import CATALOG
from nearline import bus
from nearline.settings import Settings
from processors.sweeper.passes import archive_sweep, eviction_pass
from processors.sweeper.wiring import ProjectionReads
from projections import tables as t
from projections.queries.files import find_files
from projections.queries.filters import HoldingSelector
from stack import s3, xrootd
from stores.failures import CORRUPT, NOT_IN_STORE
from tests.integration.cached_copies import corrupt, object_of
from tests.integration.catalog_queries import holding_files


def regular_files(engine, holding_id: int) -> dict[bytes, dict]:
    return {p: f for p, f in holding_files(engine, holding_id).items() if f["path_type"] == "FILE"}


def wait_until(check: Callable[[], bool], timeout: float = 120, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.3)


def pending(engine, holding_id: int) -> set[int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.archive_pending.c.file_id)
            .join(t.files, t.files.c.id == t.archive_pending.c.file_id)
            .where(t.files.c.holding_id == holding_id)
        )
        return {r.file_id for r in rows}


def settled(engine, holding_id: int) -> bool:
    """Nothing of the holding is in flight to tape any more."""
    return not pending(engine, holding_id)


def aggregate_row(engine, name: str):
    with engine.connect() as conn:
        return conn.execute(select(t.aggregates).where(t.aggregates.c.name == name)).one()


def member_offsets(engine, holding_id: int) -> dict[int, tuple[str, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.aggregate_members)
            .join(t.files, t.files.c.id == t.aggregate_members.c.file_id)
            .where(t.files.c.holding_id == holding_id)
        )
        return {r.file_id: (r.aggregate, r.offset, r.size) for r in rows}


class CatalogTail:
    """The catalog facts written from now on."""

    def __init__(self, settings: Settings) -> None:
        self.consumer = bus.consumer(settings, group=f"test-archive-{uuid.uuid4().hex[:8]}")
        partitions = range(settings.kafka.partitions)
        starts = []
        for p in partitions:
            _low, high = self.consumer.get_watermark_offsets(TopicPartition(CATALOG, p), 10)
            starts.append(TopicPartition(CATALOG, p, high))
        self.consumer.assign(starts)

    def wait_for(self, kind: type, transaction_ids: set[str], timeout: float) -> list:
        found: dict[str, object] = {}
        deadline = time.monotonic() + timeout
        while set(found) < transaction_ids:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {kind.__name__} for {transaction_ids - set(found)}")
            message = self.consumer.poll(0.5)
            if message is None or message.error():
                continue
            event = decode(message.value())
            if isinstance(event, kind) and event.transaction_id in transaction_ids:
                found[event.transaction_id] = event
        return list(found.values())

    def close(self) -> None:
        self.consumer.close()


def sweep_and_wait(settings, engine, producer, holding_id: int, timeout: float = 120) -> list:
    """Run one archive sweep of the holding and wait until the decider recorded each
    aggregate's outcome and the projection shows it; returns the FilesArchived facts."""
    tail = CatalogTail(settings)
    try:
        sent = archive_sweep(settings, ProjectionReads(engine), producer, [holding_id])
        facts = tail.wait_for(FilesArchived, {r.transaction_id for r in sent}, timeout)
    finally:
        tail.close()
    wait_until(lambda: settled(engine, holding_id), 60, "the projection to settle")
    return facts


def test_archive_sweep_writes_each_file_to_tape_once_and_the_catalog_shows_both(
    settings, engine, producer, tape, put, users
):
    contents = {f"f{i:02d}.dat": os.urandom(1000 * (i + 1)) for i in range(12)}
    holding_id = put(contents)

    # One sweep sends the holding's files; the catalog then shows both copies.
    facts = sweep_and_wait(settings, engine, producer, holding_id)
    assert sum(len(f.members) for f in facts) == len(contents)
    assert all(not f.failed for f in facts)
    wait_until(
        lambda: all("TAPE" in f["locations"] for f in regular_files(engine, holding_id).values()),
        what="tape locations",
    )
    files = regular_files(engine, holding_id)
    assert len(files) == len(contents)
    offsets = member_offsets(engine, holding_id)
    for path, row in files.items():
        assert set(row["locations"]) == {"OBJECT_STORAGE", "TAPE"}
        aggregate, offset, size = offsets[row["id"]]
        assert row["locations"]["TAPE"][0] == aggregate
        # The member's bytes on tape are the file's.
        assert tape.read_range(aggregate, offset, size) == contents[os.path.basename(path).decode()]
    # The tape file exists with the adler32 the catalog recorded.
    aggregates = {a for a, _, _ in offsets.values()}
    for name in aggregates:
        row = aggregate_row(engine, name)
        assert tape.checksum(name) == row.adler32
        assert tape.stat(name).size == row.size

    # FIND, and both its renderings, show each file in the object store and on tape.
    alice = users["alice"][0]
    with engine.connect() as conn:
        found = find_files(conn, Scope(alice), HoldingSelector(holding_id=holding_id))
    shown = [v1_render.found_file(f, "http://s3") for f in found]
    shown_files = [f for f in shown if f.path_type == "FILE"]
    assert len(shown_files) == len(contents)
    assert all(
        {loc.storage_type for loc in f.locations} == {"OBJECT_STORAGE", "TAPE"} for f in shown_files
    )
    [holding] = nlds_render.found_files(found, "http://s3").values()
    [listed] = holding["transactions"].values()
    tape_roots = set()
    for record in listed["filelist"]:
        if record["path_type"] == "FILE":
            assert [loc["storage_type"] for loc in record["locations"]] == [
                "OBJECT_STORAGE",
                "TAPE",
            ]
            tape_roots.add(record["locations"][1]["root"])
    assert tape_roots == aggregates

    # A re-run sends nothing and writes nothing.
    before = {name: tape.stat(name).size for name in aggregates}
    assert archive_sweep(settings, ProjectionReads(engine), producer, [holding_id]) == []
    assert member_offsets(engine, holding_id) == offsets
    assert {name: tape.stat(name).size for name in aggregates} == before


def test_a_member_whose_object_was_deleted_fails_alone(settings, engine, producer, put):
    # gone.dat is stored alone (D90: 1 MiB and more), the others share a pack.
    gone_size = 1024 * 1024 + 7000
    contents = {
        "keep-a.dat": os.urandom(5000),
        "gone.dat": b"x" * gone_size,
        "keep-b.dat": b"y" * 3,
    }
    holding_id = put(contents)
    files = regular_files(engine, holding_id)
    gone = next(f for p, f in files.items() if p.endswith(b"/gone.dat"))
    bucket = settings.s3.bucket
    s3.client(settings).delete_object(Bucket=bucket, Key=gone["locations"]["OBJECT_STORAGE"][1])

    (fact,) = sweep_and_wait(settings, engine, producer, holding_id)
    assert [f["file_id"] for f in fact.failed] == [gone["id"]]
    assert fact.failed[0]["reason"] == NOT_IN_STORE
    assert len(fact.members) == 2

    wait_until(
        lambda: (
            sum("TAPE" in f["locations"] for f in regular_files(engine, holding_id).values()) == 2
        ),
        what="tape locations",
    )
    files = regular_files(engine, holding_id)
    for path, row in files.items():
        if path.endswith(b"/gone.dat"):
            assert "TAPE" not in row["locations"]
        else:
            assert set(row["locations"]) == {"OBJECT_STORAGE", "TAPE"}, path


def test_a_member_damaged_in_its_pack_fails_alone(settings, engine, producer, put):
    contents = {"a.dat": os.urandom(5000), "bad.dat": os.urandom(7000), "c.dat": b"y" * 3}
    holding_id = put(contents)
    files = regular_files(engine, holding_id)
    keys = {p: f["locations"]["OBJECT_STORAGE"][1] for p, f in files.items()}
    assert len({object_of(k) for k in keys.values()}) == 1  # one pack
    bad_path = next(p for p in files if p.endswith(b"/bad.dat"))
    bad = files[bad_path]
    corrupt(s3.client(settings), settings.s3.bucket, bad["locations"]["OBJECT_STORAGE"][1])

    (fact,) = sweep_and_wait(settings, engine, producer, holding_id)
    assert [(f["file_id"], f["reason"]) for f in fact.failed] == [(bad["id"], CORRUPT)]
    assert sorted(m["path"] for m in fact.members) == sorted(p for p in files if p != bad_path)


def test_tape_down_during_archive_put_marks_nothing_archived_then_a_later_sweep_archives(
    settings, engine, producer, put
):
    holding_id = put({"a.dat": os.urandom(3000), "b.dat": os.urandom(4000)})
    xrootd.stop(settings)
    try:
        # The worker retries, then reports every member failed: nothing is archived.
        (fact,) = sweep_and_wait(settings, engine, producer, holding_id, timeout=180)
        assert fact.members == [] and len(fact.failed) == 2
        assert all(f["retryable"] for f in fact.failed)
        files = regular_files(engine, holding_id)
        assert all(set(f["locations"]) == {"OBJECT_STORAGE"} for f in files.values())
    finally:
        xrootd.start(settings)
    (fact,) = sweep_and_wait(settings, engine, producer, holding_id)
    assert len(fact.members) == 2
    wait_until(
        lambda: all(
            set(f["locations"]) == {"OBJECT_STORAGE", "TAPE"}
            for f in regular_files(engine, holding_id).values()
        ),
        what="tape locations",
    )


def test_eviction_removes_only_archived_cache_copies_and_keeps_cache_keep_holdings(
    settings, engine, producer, put, users
):
    archived = put({f"e{i}.dat": os.urandom(20_000) for i in range(4)})
    kept = put({"k.dat": os.urandom(20_000)}, tags={"cache": "keep"})
    for holding in (archived, kept):
        sweep_and_wait(settings, engine, producer, holding)
        wait_until(
            lambda h=holding: all(
                "TAPE" in f["locations"] for f in regular_files(engine, h).values()
            ),
            what="tape locations",
        )
    unarchived = put({"new.dat": os.urandom(20_000)})  # after the sweep: cache only

    # A cache over its high watermark, whose low watermark needs every archived copy gone.
    with engine.connect() as conn:
        from projections.queries.eviction import cache_usage

        usage = cache_usage(conn)
    policy = settings.eviction.model_copy(
        update={"cache_capacity_bytes": usage, "high_watermark": 0.5, "low_watermark": 0.0}
    )
    tight = settings.model_copy(update={"eviction": policy})
    tail = CatalogTail(settings)
    try:
        done = eviction_pass(tight, ProjectionReads(engine), producer)
        facts = tail.wait_for(FilesEvicted, {r.transaction_id for r in done.requests}, 120)
    finally:
        tail.close()
    chosen = {c.file_id for c in done.plan.chosen}
    assert {f["file_id"] for fact in facts for f in fact.files} == chosen
    wait_until(
        lambda: all(
            set(f["locations"]) == {"TAPE"} for f in regular_files(engine, archived).values()
        ),
        what="the evicted files to show tape only",
    )

    bucket, client = settings.s3.bucket, s3.client(settings)
    assert all(row["id"] in chosen for row in regular_files(engine, archived).values())
    # The files shared a pack (D90): the decider has it removed once all of them left.
    wait_until(
        lambda: client.list_objects_v2(Bucket=bucket, Prefix=f"h{archived}/")["KeyCount"] == 0,
        what="the evicted holding's pack to be removed",
    )
    assert client.list_objects_v2(Bucket=bucket, Prefix=f"h{kept}/")["KeyCount"] == 1
    with engine.connect() as conn:
        found = find_files(conn, Scope(users["alice"][0]), HoldingSelector(holding_id=archived))
    assert found and all(
        [loc.storage_type for loc in f.locations] == ["TAPE"]
        for f in found
        if f.path_type == "FILE"
    )
    for holding in (kept, unarchived):
        for row in regular_files(engine, holding).values():
            assert row["id"] not in chosen
            assert "OBJECT_STORAGE" in row["locations"]


@pytest.fixture(autouse=True)
def _tape_running(settings: Settings) -> Iterator[None]:
    yield
    if not xrootd.healthy(settings):
        xrootd.start(settings)


def test_operator_commands_show_what_archive_and_evict_would_do(
    settings, engine, put, catalog_url, monkeypatch
):
    from typer.testing import CliRunner

    from admin import commands  # noqa: F401  (registers the admin commands)
    from admin.app import app
    from nearline import settings as settings_module

    holding_id = put({"one.dat": os.urandom(100), "two.dat": os.urandom(200)})
    monkeypatch.setenv("NEARLINE_CATALOG__URL", catalog_url)
    settings_module.get_settings.cache_clear()
    try:
        runner = CliRunner()
        shown = runner.invoke(app, ["archive", "--holding", str(holding_id)])
        assert shown.exit_code == 0, shown.output
        assert f"holding {holding_id} (" in shown.output
        assert "2 files, 300 bytes" in shown.output
        assert "would send (run with --now to send): 1 aggregates of 2 files" in shown.output
        # Nothing was sent: the files are neither in flight nor on tape.
        assert pending(engine, holding_id) == set()
        assert all(
            set(f["locations"]) == {"OBJECT_STORAGE"}
            for f in regular_files(engine, holding_id).values()
        )
        evict = runner.invoke(app, ["evict", "--dry-run"])
        assert evict.exit_code == 0, evict.output
        assert "cache use" in evict.output and "would evict 0 cache copies" in evict.output
    finally:
        settings_module.get_settings.cache_clear()
