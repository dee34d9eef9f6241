"""The decider's recall rules: tape-only files of a GET or STAGE are recalled per
aggregate, then fetched (GET) or settled (STAGE); failures reach the GET's outcome."""

from __future__ import annotations

from events.catalog import (
    FilesRecalled,
    FilesRetrieved,
    FilesSelected,
    MemberFailure,
    RecalledFile,
    RecallScheduled,
    TransactionFinished,
)
from events.reports import AggregateRecalled
from events.requests import StageRequested
from events.status import TransactionStateChanged
from events.topics import ARCHIVE_GET
from events.work import RecallRequested, TransferGetRequested
from processors.catalog.ports import Selection, TapeCopy
from stores.tape.members import TAPE_CORRUPT
from tests.unit.catalog.test_get_decisions import (
    TX,
    decider_with,
    envelope,
    get_request,
    of,
    restored_report,
    selected,
)


def tape_selection() -> Selection:
    files = [
        selected(1, b"/c"),  # cached
        selected(2, b"/t1", key=None),
        selected(3, b"/t2", key=None),
        selected(4, b"/u", key=None),
    ]
    copies = {
        2: TapeCopy("h1/agg-a.tar", 1024, "key-2"),
        3: TapeCopy("h1/agg-a.tar", 512, "key-3"),
        4: TapeCopy("h1/agg-b.tar", 512, "key-4"),
    }
    return Selection(files, on_tape=frozenset({2, 3, 4}), tape_copies=copies)


def recall_report(batch: int, recalled: list[int], failed: list[tuple[int, str]] = ()):
    paths = {2: b"/t1", 3: b"/t2", 4: b"/u"}
    return AggregateRecalled(
        **envelope(f"aggregate-recalled/{batch}"),
        sub_batch=batch,
        holding_id=1,
        aggregate="h1/agg-a.tar" if batch == 1 else "h1/agg-b.tar",
        recalled=[
            RecalledFile(file_id=i, path=paths[i], object_key=f"key-{i}", size=10) for i in recalled
        ],
        failed=[
            MemberFailure(file_id=i, path=paths[i], reason=r, retryable=False) for i, r in failed
        ],
        staged=True,
    )


def test_tape_only_files_are_recalled_per_aggregate_in_offset_order():
    decider = decider_with(tape_selection())
    out = decider.handle(get_request([b"/c", b"/t1", b"/t2", b"/u"]))
    [fetch] = of(out, TransferGetRequested)  # the cached file goes at once
    assert [f["path"] for f in fetch.files] == [b"/c"]
    scheduled = of(out, RecallScheduled)
    assert [(s.sub_batch, s.aggregate) for s in scheduled] == [
        (1, "h1/agg-a.tar"),
        (2, "h1/agg-b.tar"),
    ]
    assert [m["offset"] for m in scheduled[0].members] == [512, 1024]
    work = [o for o in out if o.topic == ARCHIVE_GET]
    assert [o.key for o in work] == [b"h1/agg-a.tar", b"h1/agg-b.tar"]
    assert all(isinstance(o.event, RecallRequested) for o in work)
    assert work[0].event.members[0]["object_key"] == "key-3"
    states = {(e.sub_id, e.state) for e in of(out, TransactionStateChanged)}
    assert {(1, "ARCHIVE_GETTING"), (2, "ARCHIVE_GETTING")} <= states


def test_recalled_files_go_to_transfer_get_with_their_keys_and_failures_reach_the_outcome():
    decider = decider_with(tape_selection())
    decider.handle(get_request([b"/c", b"/t1", b"/t2", b"/u"]))
    decider.handle(restored_report(0, [selected(1, b"/c")]))

    out = decider.handle(recall_report(1, [2, 3]))
    [fact] = of(out, FilesRecalled)
    assert [r["file_id"] for r in fact.recalled] == [2, 3]
    [work] = of(out, TransferGetRequested)
    assert {(f["path"], f["object_key"]) for f in work.files} == {
        (b"/t1", "key-2"),
        (b"/t2", "key-3"),
    }

    # The second aggregate's only member is corrupt on tape: it fails, nothing is fetched.
    out = decider.handle(recall_report(2, [], [(4, TAPE_CORRUPT)]))
    assert not of(out, TransferGetRequested)
    [settled] = of(out, FilesRetrieved)
    assert [f["path"] for f in settled.failed] == [b"/u"]

    out = decider.handle(restored_report(1, [selected(2, b"/t1"), selected(3, b"/t2")]))
    [finished] = of(out, TransactionFinished)
    assert (finished.state, finished.files_ok, finished.files_failed) == (
        "COMPLETE_WITH_ERRORS",
        3,
        1,
    )


def test_a_redelivered_get_asks_for_a_pending_recall_again_but_not_for_a_done_one():
    decider = decider_with(tape_selection())
    request = get_request([b"/c", b"/t1", b"/t2", b"/u"])
    decider.handle(request)
    decider.handle(recall_report(1, [2, 3]))
    out = decider.handle(request)
    assert [o.event.sub_batch for o in out if o.topic == ARCHIVE_GET] == [2]
    # A redelivered report records nothing twice.
    assert of(decider.handle(recall_report(1, [2, 3])), FilesRecalled) == []


def test_a_stage_settles_cached_files_at_once_and_recalled_ones_when_back():
    decider = decider_with(tape_selection())
    stage = StageRequested(
        **envelope("requested"),
        paths=[b"/c", b"/t1", b"/t2", b"/u"],
        regex=None,
        label=None,
        holding_id=None,
        tags={},
        job_label="job",
        groupall=False,
    )
    out = decider.handle(stage)
    assert not of(out, TransferGetRequested)
    assert [f.sub_batch for f in of(out, FilesRetrieved)] == [0]  # the cached file
    assert len(of(out, FilesSelected)) == 3
    decider.handle(recall_report(1, [2, 3]))
    out = decider.handle(recall_report(2, [4]))
    assert not of(out, TransferGetRequested)
    [finished] = of(out, TransactionFinished)
    assert (finished.api_action, finished.state, finished.files_ok) == ("stage", "COMPLETE", 4)
    assert decider.state.transactions[TX].finished


def test_recalled_files_wait_for_the_directories_of_their_get():
    files = [selected(9, b"/d", "DIRECTORY"), selected(2, b"/d/t1", key=None)]
    copies = {2: TapeCopy("h1/agg-a.tar", 512, "key-2")}
    decider = decider_with(Selection(files, on_tape=frozenset({2}), tape_copies=copies))
    out = decider.handle(get_request([b"/d", b"/d/t1"]))
    [folders] = of(out, TransferGetRequested)  # the directory alone, first
    assert [f["path"] for f in folders.files] == [b"/d"]
    out = decider.handle(recall_report(1, [2]))
    assert not of(out, TransferGetRequested)  # recalled, but the directory is not done
    out = decider.handle(restored_report(0, [files[0]]))
    [work] = of(out, TransferGetRequested)
    assert [(f["path"], f["object_key"]) for f in work.files] == [(b"/d/t1", "key-2")]
