"""Packs a recall put back (D180): a pack whose slices the fold counted stays; a pack
none of whose slices it counted (its files were cached already, from another recall) is
removed once its sub-batch has been read; another owner's are left to their fold (D81)."""

from __future__ import annotations

from dataclasses import replace

from domain.ids import file_id
from events.base import event_id_for
from events.catalog import RecalledFile
from events.reports import AggregateRecalled, ObjectsDeleted
from events.work import DeleteObjectsRequested
from processors.catalog.ports import Selection, TapeCopy
from processors.catalog.state import FileEntry, Holding, Transaction
from tests.unit.catalog.test_get_decisions import (
    TX,
    decider_with,
    envelope,
    get_request,
    of,
    restored_report,
    selected,
)

PUT = "put-1"
OLD = "h1/get-0/pack=" + "a" * 64  # where an earlier recall put the files
NEW = "h1/tx-get/pack=" + "b" * 64  # where this one put them
PATHS = (b"/t1", b"/t2")
IDS = tuple(file_id(1, PUT, path) for path in PATHS)


def tape_only() -> Selection:
    files = [
        {**selected(i, path, key=None), "file_id": i} for i, path in zip(IDS, PATHS, strict=True)
    ]
    copies = {i: TapeCopy("h1/agg-a.tar", 512 * (n + 1), f"key-{n}") for n, i in enumerate(IDS)}
    return Selection(files, on_tape=frozenset(IDS), tape_copies=copies)  # type: ignore[arg-type]


def decider(cached_in: str | None, owned: bool = True):
    made = decider_with(tape_only())
    state = made.state
    if owned:
        state.holdings[1] = Holding(1, "alice", "climate", "label", {})
    for n, path in enumerate(PATHS):
        state.files[(1, path)] = FileEntry(
            PUT,
            0,
            10,
            stored=True,
            object_key=f"{cached_in}#{10 * n}+10" if cached_in else f"{OLD}#{10 * n}+10",
            cached=cached_in is not None,
            tape="h1/agg-a.tar",
        )
    if cached_in:
        state.pack_slices[cached_in] = 2
    return made


def recalled_into(pack: str) -> AggregateRecalled:
    return AggregateRecalled(
        **envelope("aggregate-recalled/0"),
        sub_batch=0,
        holding_id=1,
        aggregate="h1/agg-a.tar",
        recalled=[
            RecalledFile(file_id=i, path=path, object_key=f"{pack}#{10 * n}+10", size=10)
            for n, (i, path) in enumerate(zip(IDS, PATHS, strict=True))
        ],
        failed=[],
        staged=True,
    )


def run(made) -> list[DeleteObjectsRequested]:
    made.handle(get_request(list(PATHS)))
    out = made.handle(recalled_into(NEW))
    assert not of(out, DeleteObjectsRequested)  # transfer-get reads the pack first
    files = [{**selected(i, p), "file_id": i} for i, p in zip(IDS, PATHS, strict=True)]
    out = made.handle(restored_report(0, files))  # type: ignore[arg-type]
    return of(out, DeleteObjectsRequested)


def test_a_pack_the_fold_counts_stays():
    made = decider(None)  # evicted: the recall's slices are counted
    assert run(made) == []
    assert made.state.pack_slices == {NEW: 2}


def test_a_pack_of_files_cached_already_is_removed_once_read():
    made = decider(OLD)
    (removal,) = run(made)
    assert removal.object_keys == [NEW]
    assert made.state.pack_slices == {OLD: 2}


def test_another_owners_recalled_pack_is_left_alone():
    assert run(decider(OLD, owned=False)) == []


def test_the_removal_of_a_spare_pack_never_finishes_the_get():
    """The object deleter's report on a spare pack comes under the GET's id; the GET's
    end is its own finishing passes' to decide (D34), never a deletion's: here every
    sub-batch has settled, but its directories' pass has not."""
    made = decider(OLD)
    made.state.transactions[TX] = Transaction(
        TX, "alice", "climate", "getlist", "job", 1,
        made={b"/d": selected(9, b"/d", kind="DIRECTORY")},
        settled={0, 1}, batch_count=2, files_ok=2,
    )  # fmt: skip
    report = ObjectsDeleted(
        **envelope("objects-deleted/0"), holding_id=1, sub_batch=0, object_keys=[NEW]
    )
    assert made.handle(report) == []
    assert not made.state.transactions[TX].finished


def test_a_spare_pack_another_get_was_given_goes_with_the_last_to_settle():
    """Two GETs of the same files recalled together share one put-back (D182): the
    first to settle must not remove the pack the other has not read yet."""
    made = decider(OLD)
    second = "tx-get-2"

    def of_second(event):
        return replace(event, transaction_id=second, event_id=event_id_for(second, event.event_id))

    files = [{**selected(i, p), "file_id": i} for i, p in zip(IDS, PATHS, strict=True)]
    made.handle(get_request(list(PATHS)))
    made.handle(of_second(get_request(list(PATHS))))
    made.handle(recalled_into(NEW))
    made.handle(of_second(recalled_into(NEW)))
    first_done = made.handle(restored_report(0, files))  # type: ignore[arg-type]
    assert of(first_done, DeleteObjectsRequested) == []  # the second still reads NEW
    (removal,) = of(made.handle(of_second(restored_report(0, files))), DeleteObjectsRequested)  # type: ignore[arg-type]
    assert removal.object_keys == [NEW]
    assert removal.transaction_id == second
