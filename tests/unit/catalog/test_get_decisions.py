"""The decider's GET rules, as stories: a GET request with a fake selection, then the
transfer-get workers' reports. No Kafka, no database: the selection is given."""

from __future__ import annotations

import pytest

from domain.queries import InvalidQuery
from events.base import Event, event_id_for
from events.catalog import (
    FilesRetrieved,
    FilesSelected,
    RestoredFile,
    SelectedFile,
    TransactionAccepted,
    TransactionFinished,
    TransactionRejected,
)
from events.reports import FilesRestored
from events.requests import GetRequested
from events.status import TransactionStateChanged
from events.topics import CATALOG, TRANSFER_GET
from events.work import TransferGetRequested
from processors.catalog.decider import Decider, Limits, Outgoing
from processors.catalog.planning import NOT_FOUND, ONLY_ON_TAPE, sub_batches
from processors.catalog.ports import Selection
from processors.catalog.settling import NO_RESULT
from processors.catalog.state import CatalogState

TX = "get-1"


def envelope(step: str) -> dict:
    return {
        "event_id": event_id_for(TX, step),
        "transaction_id": TX,
        "user": "alice",
        "group": "climate",
        "cause_id": None,
        "occurred_at": 1,
    }


def get_request(paths: list[bytes], **fields) -> GetRequested:
    values = {
        "paths": paths,
        "regex": None,
        "label": None,
        "holding_id": None,
        "tags": {},
        "target": b"/home/alice/out",
        "overwrite": False,
        "job_label": "job",
        "api_action": "getlist",
        "groupall": False,
    } | fields
    return GetRequested(**envelope("requested"), **values)


def selected(file_id: int, path: bytes, kind: str = "FILE", key: str | None = "k") -> SelectedFile:
    return SelectedFile(
        path=path,
        path_type=kind,
        link_path=None,
        size=10,
        mode=0o100644,
        uid=1000,
        gid=1000,
        mtime_ns=5,
        object_key=key if kind == "FILE" else None,
        adler32="00000001" if kind == "FILE" else None,
        sha256="ab" * 32 if kind == "FILE" else None,
        file_id=file_id,
        holding_id=1,
    )


def restored_report(batch: int, done: list[SelectedFile], failed: list | None = None):
    return FilesRestored(
        **envelope(f"restored/{batch}"),
        sub_batch=batch,
        restored=[RestoredFile(file_id=f["file_id"], path=f["path"], size=10) for f in done],
        failed=failed or [],
    )


def decider_with(selection: Selection | Exception, limits: Limits | None = None) -> Decider:
    def select(_request: GetRequested) -> Selection:
        if isinstance(selection, Exception):
            raise selection
        return selection

    return Decider(CatalogState(partition=0, partitions=1), limits, clock=lambda: 7, select=select)


def of(out: list[Outgoing], kind: type) -> list:
    return [o.event for o in out if isinstance(o.event, kind)]


def final_state(out: list[Outgoing]) -> str | None:
    states = [e.state for e in of(out, TransactionStateChanged) if e.sub_id is None]
    return states[-1] if states else None


def test_a_get_is_accepted_planned_and_sent_to_transfer_get_keyed_by_sub_batch():
    files = [selected(1, b"/d/a"), selected(2, b"/d/b"), selected(3, b"/d/c")]
    decider = decider_with(Selection(files), Limits(max_files=2))
    # the request
    out = decider.handle(get_request([b"/d/a", b"/d/b", b"/d/c"]))
    # accepted; the selection recorded as facts of bounded sub-batches
    assert len(of(out, TransactionAccepted)) == 1
    facts = of(out, FilesSelected)
    assert [len(f.files) for f in facts] == [2, 1] and [f.last for f in facts] == [False, True]
    assert all(o.topic == CATALOG for o in out if isinstance(o.event, FilesSelected))
    # one work item per sub-batch, keyed transaction/sub-batch, with the target
    work = [o for o in out if o.topic == TRANSFER_GET]
    assert [o.key for o in work] == [f"{TX}/0".encode(), f"{TX}/1".encode()]
    assert all(isinstance(o.event, TransferGetRequested) for o in work)
    assert work[0].event.target == b"/home/alice/out" and not work[0].event.overwrite
    states = {(e.sub_id, e.state) for e in of(out, TransactionStateChanged)}
    assert states == {(0, "TRANSFER_GETTING"), (1, "TRANSFER_GETTING")}


def test_a_get_of_several_sub_batches_restores_its_directories_first():
    files = [
        selected(1, b"/d", "DIRECTORY"),
        selected(2, b"/d/a"),
        selected(3, b"/d/e", "DIRECTORY"),
        selected(4, b"/d/e/b"),
    ]
    decider = decider_with(Selection(files), Limits(max_files=3))
    # planned: the directories alone first, then the rest; only the directories are sent
    out = decider.handle(get_request([], regex="^/d"))
    facts = of(out, FilesSelected)
    assert [[f["path"] for f in fact.files] for fact in facts] == [
        [b"/d", b"/d/e"],
        [b"/d/a", b"/d/e/b"],
    ]
    assert [w.sub_batch for w in of(out, TransferGetRequested)] == [0]
    # a redelivered request still waits for them
    assert [
        w.sub_batch for w in of(decider.handle(get_request([], regex="^/d")), TransferGetRequested)
    ] == [0]
    # once they are in place, the files go
    out = decider.handle(restored_report(0, [files[0], files[2]]))
    assert [w.sub_batch for w in of(out, TransferGetRequested)] == [1]
    out = decider.handle(restored_report(1, [files[1], files[3]]))
    [finished] = of(out, TransactionFinished)
    assert (finished.state, finished.files_ok) == ("COMPLETE", 4)


def test_a_get_that_fits_one_sub_batch_keeps_directories_with_their_files():
    files = [selected(1, b"/d", "DIRECTORY"), selected(2, b"/d/a")]
    out = decider_with(Selection(files)).handle(get_request([b"/d", b"/d/a"]))
    [work] = of(out, TransferGetRequested)
    assert [f["path"] for f in work.files] == [b"/d", b"/d/a"]


def test_reports_settle_sub_batches_and_the_last_one_finishes_the_get():
    files = [selected(1, b"/a"), selected(2, b"/b")]
    decider = decider_with(Selection(files), Limits(max_files=1))
    decider.handle(get_request([b"/a", b"/b"]))
    # the first sub-batch restored: recorded, not finished yet
    out = decider.handle(restored_report(0, [files[0]]))
    [fact] = of(out, FilesRetrieved)
    assert fact.restored[0]["file_id"] == 1 and not of(out, TransactionFinished)
    # the second: the GET is COMPLETE, with the bytes restored
    out = decider.handle(restored_report(1, [files[1]]))
    [finished] = of(out, TransactionFinished)
    assert (finished.state, finished.files_ok, finished.bytes_ok) == ("COMPLETE", 2, 20)
    assert final_state(out) == "COMPLETE"


def test_failed_files_and_their_reasons_finish_with_errors():
    files = [selected(1, b"/a"), selected(2, b"/b")]
    decider = decider_with(Selection(files))
    decider.handle(get_request([b"/a", b"/b"]))
    failure = {"path": b"/b", "reason": "checksum mismatch", "retryable": False}
    out = decider.handle(restored_report(0, [files[0]], [failure]))
    [finished] = of(out, TransactionFinished)
    assert (finished.state, finished.files_failed) == ("COMPLETE_WITH_ERRORS", 1)
    [sub] = [e for e in of(out, TransactionStateChanged) if e.sub_id == 0]
    assert sub.failures == [failure]


def test_a_file_the_worker_did_not_report_on_fails():
    files = [selected(1, b"/a"), selected(2, b"/b")]
    decider = decider_with(Selection(files))
    decider.handle(get_request([b"/a", b"/b"]))
    out = decider.handle(restored_report(0, [files[0]]))
    [fact] = of(out, FilesRetrieved)
    assert [(f["path"], f["reason"]) for f in fact.failed] == [(b"/b", NO_RESULT)]


def test_nothing_selected_rejects_the_get_with_a_clear_reason():
    decider = decider_with(Selection([], not_found=[b"/nowhere"]))
    out = decider.handle(get_request([b"/nowhere"], label="missing"))
    [rejected] = of(out, TransactionRejected)
    assert "Nothing to get" in rejected.reason and "/nowhere" in rejected.reason
    assert "label 'missing'" in rejected.reason
    assert final_state(out) == "FAILED" and not of(out, TransferGetRequested)


def test_an_invalid_query_rejects_the_get_with_the_query_message():
    decider = decider_with(InvalidQuery("bad regex: escape it"))
    out = decider.handle(get_request([], regex="("))
    [rejected] = of(out, TransactionRejected)
    assert rejected.reason == "bad regex: escape it"


def test_tape_only_files_without_a_recorded_member_fail():
    files = [selected(1, b"/a"), selected(2, b"/t", key=None)]
    decider = decider_with(Selection(files, on_tape=frozenset({2})))
    out = decider.handle(get_request([b"/a", b"/t"]))
    fetch, tape_only = of(out, FilesSelected)
    assert [f["path"] for f in fetch.files] == [b"/a"] and fetch.unavailable == []
    assert tape_only.files == [] and tape_only.last
    assert [(f["path"], f["reason"]) for f in tape_only.unavailable] == [(b"/t", ONLY_ON_TAPE)]
    [work] = of(out, TransferGetRequested)
    assert [f["path"] for f in work.files] == [b"/a"]
    out = decider.handle(restored_report(0, [files[0]]))
    [finished] = of(out, TransactionFinished)
    assert (finished.state, finished.files_ok, finished.files_failed) == (
        "COMPLETE_WITH_ERRORS",
        1,
        1,
    )


def test_only_tape_only_files_fail_the_get_without_any_work():
    decider = decider_with(Selection([selected(2, b"/t", key=None)], on_tape=frozenset({2})))
    out = decider.handle(get_request([b"/t"]))
    assert not of(out, TransferGetRequested)
    [finished] = of(out, TransactionFinished)
    assert finished.state == "FAILED" and finished.files_failed == 1


def test_paths_not_found_are_failures_of_a_get_that_found_others():
    decider = decider_with(Selection([selected(1, b"/a")], not_found=[b"/b"]))
    out = decider.handle(get_request([b"/a", b"/b"]))
    unavailable = [f for fact in of(out, FilesSelected) for f in fact.unavailable]
    assert [(f["path"], f["reason"]) for f in unavailable] == [(b"/b", NOT_FOUND)]


def test_many_unavailable_files_are_recorded_in_bounded_sub_batches():
    files = [selected(i, b"/t%d" % i, key=None) for i in range(5)]
    decider = decider_with(Selection(files, on_tape=frozenset(range(5))), Limits(max_files=2))
    out = decider.handle(get_request([], regex="t"))
    assert [len(f.unavailable) for f in of(out, FilesSelected)] == [2, 2, 1]
    [finished] = of(out, TransactionFinished)
    assert (finished.state, finished.files_failed) == ("FAILED", 5)


def test_redelivery_sends_the_same_events_and_selects_only_once():
    calls = []
    files = [selected(1, b"/a")]

    def select(request: GetRequested) -> Selection:
        calls.append(request)
        return Selection(files)

    decider = Decider(CatalogState(partition=0, partitions=1), clock=lambda: 7, select=select)
    first = decider.handle(get_request([b"/a"]))
    again = decider.handle(get_request([b"/a"]))
    assert len(calls) == 1
    work_ids = [o.event.event_id for o in first if o.topic == TRANSFER_GET]
    assert work_ids == [o.event.event_id for o in again if o.topic == TRANSFER_GET]
    # a report handled twice settles once; a GET finished ignores both
    done = decider.handle(restored_report(0, files))
    assert of(done, TransactionFinished)
    assert decider.handle(restored_report(0, files)) == []
    assert decider.handle(get_request([b"/a"])) == []


def test_the_state_rebuilt_from_the_facts_decides_the_same():
    files = [selected(1, b"/a"), selected(2, b"/b")]
    decider = decider_with(Selection(files), Limits(max_files=1))
    facts: list[Event] = [
        o.event for o in decider.handle(get_request([b"/a"])) if o.topic == CATALOG
    ]
    facts += [o.event for o in decider.handle(restored_report(0, files[:1])) if o.topic == CATALOG]
    rebuilt = CatalogState(partition=0, partitions=1)
    for fact in facts:
        rebuilt.apply(fact)
    replayed = Decider(rebuilt, clock=lambda: 7, select=lambda _r: pytest.fail("selected again"))
    out = replayed.handle(restored_report(1, files[1:]))
    [finished] = of(out, TransactionFinished)
    assert (finished.state, finished.files_ok) == ("COMPLETE", 2)


def test_sub_batches_are_bounded_by_count_and_bytes():
    files = [selected(i, b"/f%d" % i) for i in range(5)]
    assert [len(b) for b in sub_batches(files, Limits(max_files=2))] == [2, 2, 1]
    assert [len(b) for b in sub_batches(files, Limits(max_bytes=25))] == [2, 2, 1]
    assert sub_batches([], Limits()) == []


def test_without_a_catalog_the_decider_refuses_gets():
    decider = Decider(CatalogState(partition=0, partitions=1), clock=lambda: 7)
    [rejected] = of(decider.handle(get_request([b"/a"])), TransactionRejected)
    assert "not available" in rejected.reason
