"""The finishing pass of a GET of several sub-batches (decision D34): sent once every
other sub-batch has settled, holding only the directories the GET made, and the GET
finishes only after it, without counting its directories twice."""

from __future__ import annotations

from dataclasses import replace

from events.base import Event
from events.catalog import FileFailure, FilesRetrieved, TransactionFinished
from events.codec import decode, encode
from events.registry import default_registry
from events.reports import FilesRestored
from events.topics import CATALOG, TRANSFER_GET
from events.vectors import read_vectors, vector_path
from events.work import TransferGetRequested
from processors.catalog.decider import Decider, Limits
from processors.catalog.ports import Selection
from processors.catalog.state import CatalogState
from projections import status
from tests.unit.catalog.test_get_decisions import (
    TX,
    decider_with,
    get_request,
    of,
    restored_report,
    selected,
)


def vars_of(report: FilesRestored) -> dict:
    envelope = ("event_id", "transaction_id", "user", "group", "cause_id", "occurred_at")
    return {name: getattr(report, name) for name in (*envelope, "sub_batch")}


FILES = [
    selected(1, b"/d", "DIRECTORY"),
    selected(2, b"/d/a"),
    selected(3, b"/d/e", "DIRECTORY"),
    selected(4, b"/d/e/b"),
    selected(5, b"/d/e/c"),
]
DIRS = [FILES[0], FILES[2]]


def made(batch: int, done: list, created: list[bytes]) -> FilesRestored:
    return replace(restored_report(batch, done), created=created)


def planned_and_restored(decider: Decider, created: list[bytes]) -> list:
    """Request, directory pass, and the file passes but the last; what the last sends."""
    decider.handle(get_request([], regex="^/d"))
    decider.handle(made(0, DIRS, created))
    assert not of(decider.handle(restored_report(1, FILES[1:2] + FILES[3:4])), TransferGetRequested)
    return decider.handle(restored_report(2, FILES[4:]))


def test_the_finishing_pass_goes_once_every_other_sub_batch_settled():
    decider = decider_with(Selection(FILES), Limits(max_files=2))
    out = planned_and_restored(decider, [b"/d/e"])  # /d was found existing
    [work] = of(out, TransferGetRequested)
    assert (work.sub_batch, work.finishing, work.target) == (3, True, b"/home/alice/out")
    assert [f["path"] for f in work.files] == [b"/d/e"]
    assert [o.key for o in out if o.topic == TRANSFER_GET] == [f"{TX}/3".encode()]
    assert not of(out, TransactionFinished)
    # its report settles it, marked finishing, and only then does the GET finish
    report = restored_report(3, [FILES[2]])
    out = decider.handle(report)
    [fact] = of(out, FilesRetrieved)
    assert fact.finishing and fact.sub_batch == 3
    [finished] = of(out, TransactionFinished)
    assert (finished.state, finished.files_ok) == ("COMPLETE", 5)
    assert decider.handle(report) == []


def test_finishing_passes_are_bounded_and_all_settle_before_the_get_finishes():
    files = [selected(i, b"/d%d" % i, "DIRECTORY") for i in range(3)] + [selected(9, b"/d0/f")]
    decider = decider_with(Selection(files), Limits(max_files=2))
    decider.handle(get_request([], regex="^/d"))
    decider.handle(made(0, files[:2], [b"/d0", b"/d1"]))
    decider.handle(made(1, files[2:3], [b"/d2"]))
    out = decider.handle(restored_report(2, files[3:]))
    passes = of(out, TransferGetRequested)
    assert [(w.sub_batch, len(w.files)) for w in passes] == [(3, 2), (4, 1)]
    assert not of(decider.handle(restored_report(4, files[2:3])), TransactionFinished)
    [finished] = of(decider.handle(restored_report(3, files[:2])), TransactionFinished)
    assert finished.files_ok == 4


def test_a_skipped_directory_is_no_failure_of_the_get():
    decider = decider_with(Selection(FILES), Limits(max_files=2))
    planned_and_restored(decider, [b"/d", b"/d/e"])
    gone = FileFailure(path=b"/d/e", reason="gone", retryable=False)
    [finished] = of(decider.handle(restored_report(3, [FILES[0]], [gone])), TransactionFinished)
    assert (finished.state, finished.files_ok, finished.files_failed) == ("COMPLETE", 5, 0)


def test_no_finishing_pass_when_the_get_made_no_directory_or_fits_one_sub_batch():
    decider = decider_with(Selection(FILES), Limits(max_files=2))
    out = planned_and_restored(decider, [])
    assert not of(out, TransferGetRequested) and of(out, TransactionFinished)
    single = decider_with(Selection(FILES))
    single.handle(get_request([], regex="^/d"))
    out = single.handle(made(0, FILES, [b"/d", b"/d/e"]))
    assert not of(out, TransferGetRequested) and of(out, TransactionFinished)


def test_a_redelivered_report_or_request_resends_a_finishing_pass_a_crash_lost():
    decider = decider_with(Selection(FILES), Limits(max_files=2))
    planned_and_restored(decider, [b"/d/e"])  # its work lost: the last report comes again
    again = decider.handle(restored_report(2, FILES[4:]))
    assert [w.sub_batch for w in of(again, TransferGetRequested)] == [3]
    assert [w.sub_batch for w in of(decider.handle(get_request([])), TransferGetRequested)] == [3]
    assert not of(again, FilesRetrieved) and not of(again, TransactionFinished)


def test_the_state_rebuilt_from_the_decoded_facts_knows_the_made_directories():
    decider = decider_with(Selection(FILES), Limits(max_files=2))
    facts: list[Event] = []
    for event in (get_request([], regex="^/d"), made(0, DIRS, [b"/d/e"])):
        facts += [o.event for o in decider.handle(event) if o.topic == CATALOG]
    for report in (restored_report(1, FILES[1:2] + FILES[3:4]), restored_report(2, FILES[4:])):
        facts += [o.event for o in decider.handle(report) if o.topic == CATALOG]
    rebuilt = CatalogState(partition=0, partitions=1)
    for fact in [decode(encode(f)) for f in facts]:
        rebuilt.apply(fact)
    replayed = Decider(rebuilt, Limits(max_files=2), clock=lambda: 7)
    assert [w.sub_batch for w in of(replayed.handle(get_request([])), TransferGetRequested)] == [3]
    [finished] = of(replayed.handle(restored_report(3, [FILES[2]])), TransactionFinished)
    assert finished.files_ok == 5


def test_the_status_projection_does_not_count_a_finishing_pass():
    calls = []

    class Recording:
        def execute(self, *args, **kwargs):
            calls.append(args)

    gone = FileFailure(path=b"/d/e", reason="gone", retryable=False)
    fact = FilesRetrieved(
        **{**vars_of(restored_report(3, [])), "failed": [gone]}, restored=[], finishing=True
    )
    status.apply(Recording(), [fact])  # type: ignore[arg-type]
    assert calls == []


def test_records_written_before_the_finishing_pass_decode_as_made_nothing():
    """v1 reports, facts and work read as v2: no directory made, no finishing pass."""
    registry = default_registry()
    for name in (
        "nearline.reports.FilesRestored",
        "nearline.catalog.FilesRetrieved",
        "nearline.work.TransferGetRequested",
    ):
        v1 = registry.history(name)[0]
        for data in read_vectors(vector_path(v1, registry)):
            event = decode(data)
            assert getattr(event, "created", []) == []
            assert getattr(event, "finishing", False) is False
