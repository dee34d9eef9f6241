"""A GET's recalled sub-batches are restored straight from their online aggregate (D231):
the recall worker only stages and reports online, transfer-get reads the members by
offset, and the cache is filled after, its fact recorded also once the GET has finished."""

from __future__ import annotations

from domain.pack_keys import Slice
from events.catalog import FilesRecalled, FilesRetrieved, TransactionFinished
from events.reports import AggregateOnline
from events.requests import StageRequested
from events.work import (
    RECALL_CACHE,
    RECALL_FILL,
    RECALL_ONLINE,
    RecallRequested,
    TransferGetFromTapeRequested,
    TransferGetRequested,
)
from processors.catalog.ports import Selection, TapeCopy
from tests.unit.catalog.test_get_decisions import (
    TX,
    decider_with,
    envelope,
    get_request,
    of,
    restored_report,
    selected,
)
from tests.unit.catalog.test_get_hard_links import in_group, links
from tests.unit.catalog.test_recall_decisions import recall_report, tape_selection


def online_report(batch: int, aggregate: str = "") -> AggregateOnline:
    return AggregateOnline(
        **envelope(f"aggregate-online/{batch}"),
        sub_batch=batch,
        holding_id=1,
        aggregate=aggregate or ("h1/agg-a.tar" if batch == 1 else "h1/agg-b.tar"),
        staged=True,
    )


def started_get():
    decider = decider_with(tape_selection())
    out = decider.handle(get_request([b"/c", b"/t1", b"/t2", b"/u"]))
    return decider, out


def test_a_gets_recall_only_stages_and_its_members_are_read_from_the_aggregate():
    decider, out = started_get()
    assert {r.step for r in of(out, RecallRequested)} == {RECALL_ONLINE}

    out = decider.handle(online_report(1))
    [work] = of(out, TransferGetFromTapeRequested)
    assert work.aggregate == "h1/agg-a.tar" and work.sub_batch == 1
    assert {f["path"]: f["object_key"] for f in work.files} == {
        b"/t2": Slice("h1/agg-a.tar", 512, 10).key,
        b"/t1": Slice("h1/agg-a.tar", 1024, 10).key,
    }
    assert not of(out, TransferGetRequested)
    assert decider.handle(online_report(1)) == []  # (redelivered: sent once)


def test_the_cache_is_filled_after_the_restore_and_recorded_after_the_get_finished():
    decider, _ = started_get()
    decider.handle(restored_report(0, [selected(1, b"/c")]))
    for batch in (1, 2):
        decider.handle(online_report(batch))
    out = decider.handle(restored_report(1, [selected(2, b"/t1"), selected(3, b"/t2")]))
    [fill] = of(out, RecallRequested)
    assert (fill.step, fill.sub_batch, fill.aggregate) == (RECALL_FILL, 1, "h1/agg-a.tar")
    [retrieved] = of(out, FilesRetrieved)
    assert not retrieved.failed

    out = decider.handle(restored_report(2, [selected(4, b"/u")]))
    assert of(out, TransactionFinished)
    assert [r.step for r in of(out, RecallRequested)] == [RECALL_FILL]

    # The fills come after the GET finished: their members are recorded as cached.
    out = decider.handle(recall_report(1, [2, 3]))
    [fact] = of(out, FilesRecalled)
    assert fact.transaction_id == TX and {r["file_id"] for r in fact.recalled} == {2, 3}
    assert decider.handle(recall_report(1, [2, 3])) == []  # (redelivered: once)
    [fact] = of(decider.handle(recall_report(2, [4])), FilesRecalled)
    assert [r["file_id"] for r in fact.recalled] == [4]


def test_a_late_fill_records_only_the_members_its_sub_batch_asked_for():
    decider, _ = started_get()
    decider.handle(restored_report(0, [selected(1, b"/c")]))
    decider.handle(online_report(1))
    decider.handle(restored_report(1, [selected(2, b"/t1"), selected(3, b"/t2")]))
    report = recall_report(1, [2, 3, 4])  # 4 is another aggregate's member
    [fact] = of(decider.handle(report), FilesRecalled)
    assert {r["file_id"] for r in fact.recalled} == {2, 3}


def test_a_failed_stage_fails_the_members_as_before():
    decider, _ = started_get()
    out = decider.handle(recall_report(1, [], failed=[(2, "tape gone"), (3, "tape gone")]))
    assert of(out, FilesRecalled)
    [retrieved] = of(out, FilesRetrieved)
    assert {f["reason"] for f in retrieved.failed} == {"tape gone"}
    assert not of(out, TransferGetFromTapeRequested)


def test_an_online_report_of_another_aggregate_or_a_stage_sends_nothing():
    decider, _ = started_get()
    assert decider.handle(online_report(1, aggregate="h1/agg-b.tar")) == []

    stager = decider_with(tape_selection())
    out = stager.handle(
        StageRequested(
            **envelope("requested"),
            paths=[b"/c", b"/t1", b"/t2", b"/u"],
            regex=None,
            label=None,
            holding_id=None,
            tags={},
            job_label="job",
            groupall=False,
        )
    )
    assert {r.step for r in of(out, RecallRequested)} == {RECALL_CACHE}
    assert stager.handle(online_report(1)) == []


def test_without_an_online_report_the_get_is_fetched_from_the_cache():
    """An older recall worker ignores the step: it fills the cache and reports, and the
    sub-batch goes to transfer-get from the cache."""
    decider, _ = started_get()
    decider.handle(restored_report(0, [selected(1, b"/c")]))
    out = decider.handle(recall_report(1, [2, 3]))
    [fetch] = of(out, TransferGetRequested)
    assert {f["object_key"] for f in fetch.files} == {"key-2", "key-3"}


def test_a_link_group_restored_from_tape_travels_with_the_file_it_links_to():
    files = [
        in_group(2, b"/t1", group=b"/t1", key=None),
        in_group(3, b"/t2", group=b"/t1", key=None),
    ]
    copies = {2: TapeCopy("h1/agg-a.tar", 1024, "key-2"), 3: TapeCopy("h1/agg-a.tar", 512, "k3")}
    decider = decider_with(Selection(files, on_tape=frozenset({2, 3}), tape_copies=copies))
    decider.handle(get_request([b"/t1", b"/t2"]))
    out = decider.handle(online_report(0, aggregate="h1/agg-a.tar"))
    [work] = of(out, TransferGetFromTapeRequested)
    assert links(work.files) == [(b"/t1", b"/t1"), (b"/t2", b"/t1")]
    assert work.files[0]["object_key"] == Slice("h1/agg-a.tar", 1024, 10).key


def test_a_gets_recall_is_asked_for_once_its_directories_are_in_place():
    """Else the aggregate could come online before the directories are made, with no way
    left to restore the files: the recall only stages, and never fills the cache."""
    files = [selected(9, b"/d", "DIRECTORY"), selected(2, b"/d/t1", key=None)]
    copies = {2: TapeCopy("h1/agg-a.tar", 512, "key-2")}
    decider = decider_with(Selection(files, on_tape=frozenset({2}), tape_copies=copies))
    out = decider.handle(get_request([b"/d", b"/d/t1"]))
    assert [f["path"] for f in of(out, TransferGetRequested)[0].files] == [b"/d"]
    assert not of(out, RecallRequested)
    out = decider.handle(restored_report(0, [files[0]]))
    [recall] = of(out, RecallRequested)
    assert recall.step == RECALL_ONLINE
    [work] = of(decider.handle(online_report(1)), TransferGetFromTapeRequested)
    assert [(f["path"], f["object_key"]) for f in work.files] == [
        (b"/d/t1", Slice("h1/agg-a.tar", 512, 10).key)
    ]
