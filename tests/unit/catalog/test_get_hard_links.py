"""A GET plans the hard links of one PUT as one inode (decision D133): one file of each
link group is fetched (or recalled), and the others travel in its sub-batch to be made
hard links of it."""

from __future__ import annotations

from dataclasses import replace

from events.catalog import (
    FilesRetrieved,
    FilesSelected,
    MemberFailure,
    RecalledFile,
    RecallScheduled,
    SelectedFile,
)
from events.reports import AggregateRecalled
from events.requests import StageRequested
from events.work import TransferGetRequested
from processors.catalog.decider import Limits
from processors.catalog.planning import sub_batches
from processors.catalog.ports import Selection, TapeCopy
from projections.queries.selection import link_groups
from stores.tape.members import TAPE_CORRUPT
from tests.unit.catalog.test_get_decisions import (
    decider_with,
    envelope,
    get_request,
    of,
    selected,
)
from tests.unit.catalog.test_get_selection import found


def in_group(file_id: int, path: bytes, group: bytes = b"/g", **fields) -> SelectedFile:
    """A selected file of the link group ``group`` (as the selection names it)."""
    key = fields.pop("key", "k")
    return SelectedFile(**{**selected(file_id, path, key=key), "link_group": group, **fields})


def links(files: list[SelectedFile]) -> list[tuple[bytes, bytes | None]]:
    return [(f["path"], f.get("link_group")) for f in files]


def test_a_link_group_is_fetched_once_and_kept_in_one_sub_batch():
    files = [
        selected(1, b"/a"),
        in_group(2, b"/g"),
        in_group(3, b"/h"),
        in_group(4, b"/i"),
        selected(5, b"/z"),
    ]
    decider = decider_with(Selection(files), Limits(max_files=2))

    out = decider.handle(get_request([f["path"] for f in files]))

    # the group stays whole, over the count, right after the file fetched for it
    batches = [links(s.files) for s in of(out, FilesSelected)]
    assert batches == [
        [(b"/a", None), (b"/g", b"/g"), (b"/h", b"/g"), (b"/i", b"/g")],
        [(b"/z", None)],
    ]
    assert [links(w.files) for w in of(out, TransferGetRequested)] == batches


def test_the_links_add_no_bytes_to_a_sub_batch_and_never_start_one():
    files = [in_group(1, b"/g"), in_group(2, b"/h"), in_group(3, b"/i"), selected(4, b"/z")]
    # each file is 10 bytes: a limit of 15 cuts after every fetched file
    assert [links(b) for b in sub_batches(files, Limits(max_files=2, max_bytes=15))] == [
        [(b"/g", b"/g"), (b"/h", b"/g"), (b"/i", b"/g")],
        [(b"/z", None)],
    ]


def test_the_file_fetched_is_one_with_a_cache_copy():
    files = [in_group(1, b"/g", key=None), in_group(2, b"/h"), in_group(3, b"/i", key=None)]
    copies = {1: TapeCopy("h1/agg.tar", 0, "key-1"), 3: TapeCopy("h1/agg.tar", 512, "key-3")}
    decider = decider_with(Selection(files, on_tape=frozenset({1, 3}), tape_copies=copies))

    out = decider.handle(get_request([b"/g", b"/h", b"/i"]))

    assert not of(out, RecallScheduled)  # nothing is recalled: /h is in the cache
    [work] = of(out, TransferGetRequested)
    assert links(work.files) == [(b"/h", b"/h"), (b"/g", b"/h"), (b"/i", b"/h")]


def test_a_group_only_on_tape_recalls_one_file_and_links_the_others_to_it():
    # /t1 and /t2 are one inode; a recall report's paths are those of tape_selection's
    files = [
        in_group(2, b"/t1", group=b"/t1", key=None),
        in_group(3, b"/t2", group=b"/t1", key=None),
    ]
    copies = {2: TapeCopy("h1/agg-a.tar", 1024, "key-2"), 3: TapeCopy("h1/agg-a.tar", 512, "k3")}
    decider = decider_with(Selection(files, on_tape=frozenset({2, 3}), tape_copies=copies))

    out = decider.handle(get_request([b"/t1", b"/t2"]))

    [scheduled] = of(out, RecallScheduled)
    assert [m["path"] for m in scheduled.members] == [b"/t1"]
    [planned] = of(out, FilesSelected)
    assert links(planned.files) == [(b"/t1", b"/t1"), (b"/t2", b"/t1")]
    out = decider.handle(recalled([(2, b"/t1")]))
    [work] = of(out, TransferGetRequested)
    assert links(work.files) == [(b"/t1", b"/t1"), (b"/t2", b"/t1")]
    assert work.files[0]["object_key"] == "key-2"


def test_when_the_recall_of_the_file_fetched_fails_its_links_fail_with_it():
    files = [
        in_group(2, b"/t1", group=b"/t1", key=None),
        in_group(3, b"/t2", group=b"/t1", key=None),
    ]
    copies = {2: TapeCopy("h1/agg-a.tar", 1024, "key-2"), 3: TapeCopy("h1/agg-a.tar", 512, "k3")}
    decider = decider_with(Selection(files, on_tape=frozenset({2, 3}), tape_copies=copies))
    decider.handle(get_request([b"/t1", b"/t2"]))

    out = decider.handle(recalled([], [(2, b"/t1", TAPE_CORRUPT)]))

    assert not of(out, TransferGetRequested)
    [settled] = of(out, FilesRetrieved)
    reasons = {f["path"]: f["reason"] for f in settled.failed}
    assert reasons[b"/t1"] == TAPE_CORRUPT
    assert reasons[b"/t2"] == f"a hard link of /t1, which could not be recalled: {TAPE_CORRUPT}"


def test_files_of_a_group_with_other_content_are_fetched_on_their_own():
    files = [in_group(1, b"/g"), in_group(2, b"/h", sha256="cd" * 32), in_group(3, b"/i")]
    decider = decider_with(Selection(files))

    out = decider.handle(get_request([b"/g", b"/h", b"/i"]))

    [work] = of(out, TransferGetRequested)
    assert sorted(links(work.files)) == [(b"/g", b"/g"), (b"/h", None), (b"/i", b"/g")]


def test_one_file_of_a_group_alone_is_fetched_as_any_other():
    decider = decider_with(Selection([in_group(1, b"/h")]))
    [work] = of(decider.handle(get_request([b"/h"])), TransferGetRequested)
    assert links(work.files) == [(b"/h", None)]


def test_a_stage_brings_every_file_of_a_group_into_the_cache():
    files = [in_group(2, b"/t1", key=None), in_group(3, b"/t2", key=None)]
    copies = {2: TapeCopy("h1/agg-a.tar", 1024, "key-2"), 3: TapeCopy("h1/agg-a.tar", 512, "k3")}
    decider = decider_with(Selection(files, on_tape=frozenset({2, 3}), tape_copies=copies))
    stage = StageRequested(
        **envelope("requested"),
        paths=[b"/t1", b"/t2"],
        regex=None,
        label=None,
        holding_id=None,
        tags={},
        job_label="job",
        groupall=False,
    )
    [scheduled] = of(decider.handle(stage), RecallScheduled)
    assert sorted(m["path"] for m in scheduled.members) == [b"/t1", b"/t2"]


def test_the_selection_names_groups_within_their_put():
    # two PUTs into one holding: the second's group is named after a path of the first
    files = [
        found(1, 1, b"/d/x", 5, link_group=b"/d/x"),
        found(2, 1, b"/d/y", 5, link_group=b"/d/x"),
        replace(found(3, 1, b"/e/z", 5, link_group=b"/d/x"), transaction_id="t-later"),
        replace(found(4, 1, b"/e/w", 5, link_group=b"/d/x"), transaction_id="t-later"),
        found(5, 1, b"/f", 5, link_group=b"/f"),  # its other links were not selected
        found(6, 1, b"/plain", 5),
    ]
    assert link_groups(files) == {1: b"/d/x", 2: b"/d/x", 3: b"/e/w", 4: b"/e/w"}


def recalled(
    back: list[tuple[int, bytes]], failed: list[tuple[int, bytes, str]] = ()
) -> AggregateRecalled:
    """The recall worker's report on sub-batch 0, aggregate h1/agg-a.tar."""
    return AggregateRecalled(
        **envelope("aggregate-recalled/0"),
        sub_batch=0,
        holding_id=1,
        aggregate="h1/agg-a.tar",
        recalled=[RecalledFile(file_id=i, path=p, object_key=f"key-{i}", size=10) for i, p in back],
        failed=[MemberFailure(file_id=i, path=p, reason=r, retryable=False) for i, p, r in failed],
        staged=True,
    )
