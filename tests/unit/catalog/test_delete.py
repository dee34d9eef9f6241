"""DELETE as the decider decides it: from its own fold, owner only, facts first (the
paths are free at once), objects removed by a worker whose report finishes it."""

from __future__ import annotations

import time

from events.base import Event
from events.catalog import (
    FilesDeleted,
    FilesReserved,
    HoldingDeleted,
    ObjectsRemoved,
    TransactionFinished,
    TransactionRejected,
)
from events.status import TransactionStateChanged
from events.topics import DELETE_OBJECTS
from events.work import DeleteObjectsRequested
from processors.catalog.decider import Decider, Limits, Outgoing
from processors.catalog.deleting import BEING_PUT, NO_MATCH, NO_SUCH_FILE
from processors.catalog.state import CatalogState
from tests.unit.catalog.stories import delete, objects_deleted, stored
from tests.unit.catalog.test_decider import (
    catalog_facts,
    entry,
    indexed,
    new_decider,
    of_type,
    put,
)


def test_deleting_paths_frees_them_and_finishes_when_the_objects_are_gone():
    decider = new_decider()
    holding = stored(decider, "t1", "run", [entry(b"/d", "DIRECTORY", 0), entry(b"/d/a")])
    out = decider.handle(delete("x1", [b"/d/a", b"/d/missing"]))
    [deleted] = of_type(out, FilesDeleted)
    assert [(f["path"], f["transaction_id"], f["size"]) for f in deleted.files] == [
        (b"/d/a", "t1", 10)
    ]
    assert deleted.refused == [{"path": b"/d/missing", "reason": NO_SUCH_FILE, "retryable": False}]
    [work] = [o for o in out if o.topic == DELETE_OBJECTS]
    assert isinstance(work.event, DeleteObjectsRequested)
    assert work.event.object_keys == [f"h{holding}/t1//d/a"]
    assert (holding, b"/d/a") not in decider.state.files  # free for a new PUT at once
    assert not of_type(out, TransactionFinished)
    out = decider.handle(objects_deleted("x1", 0, holding, work.event.object_keys))
    assert of_type(out, ObjectsRemoved)[0].object_keys == work.event.object_keys
    [finished] = of_type(out, TransactionFinished)
    assert (finished.state, finished.files_ok, finished.files_failed) == (
        "COMPLETE_WITH_ERRORS",
        1,
        1,
    )
    # The directory stays; the deleted path may be put again into the same holding.
    assert (holding, b"/d") in decider.state.files
    decider.handle(put("t2", label="run"))
    again = decider.handle(indexed("t2", 0, [entry(b"/d/a")], True, holding))
    assert [f["path"] for f in of_type(again, FilesReserved)[0].files] == [b"/d/a"]


def test_a_regex_selects_by_path_text_and_a_miss_is_a_failure():
    decider = new_decider()
    stored(decider, "t1", "run", [entry(b"/d/a.nc"), entry(b"/d/b.txt"), entry(b"/d/c.nc")])
    out = decider.handle(delete("x1", regex=r"\.nc$"))
    assert [f["path"] for f in of_type(out, FilesDeleted)[0].files] == [b"/d/a.nc", b"/d/c.nc"]
    out = decider.handle(delete("x2", regex=r"\.zarr$"))
    [deleted] = of_type(out, FilesDeleted)
    assert deleted.files == [] and deleted.refused[0]["reason"] == NO_MATCH
    # Nothing to remove: settled and finished at once, FAILED.
    assert of_type(out, TransactionFinished)[0].state == "FAILED"


def test_a_catastrophic_regex_is_decided_at_once_and_a_bad_one_is_refused_with_why():
    # RE2 (nearline.patterns): linear in each path, where re would backtrack for hours.
    decider = new_decider()
    runs = [entry(b"/d/" + b"a" * 40 + b"!"), entry(b"/d/" + b"x" * 44), entry(b"/d/ok.nc")]
    stored(decider, "t1", "run", runs)
    started = time.monotonic()
    out = decider.handle(delete("x1", regex=r"(a+)+$"))
    out += decider.handle(delete("x2", regex=r"(x+x+)+y"))
    assert time.monotonic() - started < 1.0
    assert [d.refused[0]["reason"] for d in of_type(out, FilesDeleted)] == [NO_MATCH, NO_MATCH]
    for request, words in [
        (delete("x3", regex="x" * 1001), "at most 1000 are allowed"),
        (delete("x4", regex=r"\bok"), "word boundary"),
    ]:
        [rejected] = of_type(decider.handle(request), TransactionRejected)
        assert words in rejected.reason
    assert len(decider.state.holding_files(decider.state.labels[("alice", "run")])) == 3


def test_a_whole_holding_goes_with_its_label():
    decider = new_decider()
    holding = stored(decider, "t1", "run", [entry(b"/d/a"), entry(b"/d/b")], user="alice")
    out = decider.handle(delete("x1", label="run"))
    assert [f["path"] for f in of_type(out, FilesDeleted)[0].files] == [b"/d/a", b"/d/b"]
    [gone] = of_type(out, HoldingDeleted)
    assert (gone.holding_id, gone.label) == (holding, "run")
    assert ("alice", "run") not in decider.state.labels
    assert decider.state.cache_bytes["alice"] == 0
    out = decider.handle(objects_deleted("x1", 0, holding, ["k"]))
    assert of_type(out, TransactionFinished)[0].state == "COMPLETE"
    # The label is free: a PUT with it makes a new holding.
    assert decider.state.labels.get(("alice", "run")) is None
    stored(decider, "t2", "run", [entry(b"/d/a")])
    assert decider.state.labels[("alice", "run")] != holding


def test_only_the_owner_may_delete_and_an_unknown_holding_is_refused():
    decider = new_decider()
    holding = stored(decider, "t1", "run", [entry(b"/d/a")])
    for request, words in [
        (delete("x1", [b"/d/a"], holding_id=holding, user="carol"), "only your own"),
        (delete("x2", [b"/d/a"], label="nope"), "No holding of yours"),
        (delete("x3", regex="(unclosed"), "not a valid regular expression"),
    ]:
        out = decider.handle(request)
        [rejected] = of_type(out, TransactionRejected)
        assert words in rejected.reason
        assert not of_type(out, FilesDeleted)
        assert of_type(out, TransactionStateChanged)[0].state == "FAILED"
    assert decider.state.files[(holding, b"/d/a")].stored  # untouched


def test_files_being_put_are_not_deleted():
    decider = new_decider()
    holding = stored(decider, "t1", "run", [entry(b"/d/a")])
    decider.handle(put("t2", label="run"))
    decider.handle(indexed("t2", 0, [entry(b"/d/b")], True, holding))  # reserved, in transfer
    out = decider.handle(delete("x1", [b"/d/a", b"/d/b"]))
    [deleted] = of_type(out, FilesDeleted)
    assert [f["path"] for f in deleted.files] == [b"/d/a"]
    assert deleted.refused == [{"path": b"/d/b", "reason": BEING_PUT, "retryable": False}]
    out = decider.handle(delete("x2", label="run"))
    assert "being put" in of_type(out, TransactionRejected)[0].reason


def test_large_deletes_go_in_batches_and_a_redelivery_resends_the_same_work():
    decider = Decider(CatalogState(2, 6), Limits(max_files=2), clock=lambda: 7)
    holding = stored(decider, "t1", "run", [entry(b"/d/%d" % n) for n in range(5)])
    request = delete("x1", regex="/d/")
    first = decider.handle(request)
    assert [(d.sub_batch, d.last, len(d.files)) for d in of_type(first, FilesDeleted)] == [
        (0, False, 2),
        (1, False, 2),
        (2, True, 1),
    ]
    again = decider.handle(request)
    assert catalog_facts(again) == []
    work = [o.event.event_id for o in first if o.topic == DELETE_OBJECTS]
    assert [o.event.event_id for o in again if o.topic == DELETE_OBJECTS] == work
    for batch in range(3):
        out = decider.handle(objects_deleted("x1", batch, holding, []))
        assert bool(of_type(out, TransactionFinished)) == (batch == 2)
    assert of_type(out, TransactionFinished)[0].files_ok == 5


class Recording(Decider):
    """A decider that keeps every fact it decided, as the catalog topic would."""

    facts: list[Event]

    def handle(self, event: Event) -> list[Outgoing]:
        out = super().handle(event)
        self.facts += catalog_facts(out)
        return out


def test_a_rebuilt_state_knows_the_deletes():
    live = Recording(CatalogState(2, 6), clock=lambda: 7)
    live.facts = []
    holding = stored(live, "t1", "run", [entry(b"/d/a"), entry(b"/d/b")])
    live.handle(delete("x1", [b"/d/a"]))
    live.handle(objects_deleted("x1", 0, holding, ["k"]))
    rebuilt = new_decider()
    for fact in live.facts:
        rebuilt.state.apply(fact)
    assert rebuilt.state.files.keys() == live.state.files.keys() == {(holding, b"/d/b")}
    assert rebuilt.state.cache_bytes == live.state.cache_bytes == {"alice": 10}
    assert [p for p, _ in rebuilt.state.holding_files(holding)] == [b"/d/b"]
    assert [p for p, _ in live.state.holding_files(holding)] == [b"/d/b"]
    assert rebuilt.state.transactions["x1"].finished
