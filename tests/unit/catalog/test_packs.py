"""Packs in the decider (D90): a pack is removed once none of its slices is cached, whether
its files were deleted or evicted, and never while one of them still uses it."""

from __future__ import annotations

from domain.ids import file_id
from domain.pack_keys import Slice
from events.catalog import FilesEvicted, TransactionFinished
from events.reports import AggregateArchived, CacheCopiesRemoved, FilesTransferred
from events.topics import DELETE_OBJECTS
from events.work import DeleteObjectsRequested
from processors.catalog.decider import Decider
from processors.catalog.state import CatalogState
from tests.unit.catalog.stories import delete
from tests.unit.catalog.test_decider import (
    catalog_facts,
    entry,
    envelope,
    indexed,
    new_decider,
    of_type,
    put,
)

PATHS = (b"/d/a", b"/d/b", b"/d/c")
PACK = "h3/t1/pack=" + "ab" * 32
ALONE = "h3/t1/d/c"  # /d/c was too large for the pack: stored alone


def packed_holding() -> tuple[Decider, dict[bytes, int], list]:
    """Holding 3 with /d/a and /d/b in one pack and /d/c alone; their ids, and the facts."""
    decider = new_decider()
    facts = catalog_facts(decider.handle(put("t1", label="run")))
    facts += catalog_facts(decider.handle(indexed("t1", 0, [entry(p) for p in PATHS], True, 3)))
    keys = [Slice(PACK, 0, 10).key, Slice(PACK, 10, 10).key, ALONE]
    stored = [
        {"path": p, "object_key": k, "size": 10, "adler32": "0a", "sha256": "ab"}
        for p, k in zip(PATHS, keys, strict=True)
    ]
    report = FilesTransferred(
        **envelope("t1", "transferred/0"), holding_id=3, sub_batch=0, stored=stored, failed=[]
    )
    facts += catalog_facts(decider.handle(report))
    return decider, {p: file_id(3, "t1", p) for p in PATHS}, facts


def removals(out: list) -> list[list[str]]:
    return [o.event.object_keys for o in out if o.topic == DELETE_OBJECTS]


def test_a_pack_goes_with_the_last_of_its_files():
    decider, _, _ = packed_holding()
    assert decider.state.pack_slices == {PACK: 2}
    # One slice deleted: the pack stays for the other; the file alone goes at once.
    out = decider.handle(delete("x1", [b"/d/a", b"/d/c"]))
    assert removals(out) == [[ALONE]]
    assert decider.state.pack_slices == {PACK: 1}
    # The last slice deleted: nothing uses the pack, so it goes.
    out = decider.handle(delete("x2", [b"/d/b"]))
    assert removals(out) == [[PACK]]
    assert decider.state.pack_slices == {}


def test_a_delete_of_slices_only_still_in_use_settles_at_once():
    decider, _, _ = packed_holding()
    out = decider.handle(delete("x1", [b"/d/a"]))
    assert removals(out) == []
    assert of_type(out, TransactionFinished)[0].state == "COMPLETE"


def archived(ids: dict[bytes, int]) -> AggregateArchived:
    members = [
        {"file_id": i, "path": p, "offset": 512 * (n + 1), "size": 10, "sha256": "ab"}
        | {"adler32": "0a"}
        for n, (p, i) in enumerate(ids.items())
    ]
    return AggregateArchived(
        **envelope("s1", "aggregate-archived"),
        holding_id=3,
        aggregate="h3/agg",
        size=4096,
        adler32="12345678",
        members=members,
        failed=[],
    )


def evicted(ids: dict[bytes, int], paths: list[bytes], name: str) -> CacheCopiesRemoved:
    keys = dict(zip(PATHS, [Slice(PACK, 0, 10).key, Slice(PACK, 10, 10).key, ALONE], strict=True))
    files = [{"file_id": ids[p], "path": p, "object_key": keys[p]} for p in paths]
    return CacheCopiesRemoved(**envelope(name, "removed"), holding_id=3, files=files, failed=[])


def test_an_evicted_pack_is_removed_once_all_its_slices_left_the_cache():
    decider, ids, _ = packed_holding()
    decider.handle(archived(ids))
    # One slice evicted (the evict worker removed nothing for it): the pack stays.
    out = decider.handle(evicted(ids, [b"/d/a"], "e1"))
    assert [f["path"] for f in of_type(out, FilesEvicted)[0].files] == [b"/d/a"]
    assert removals(out) == []
    # The other too: now the pack goes, to the object deleter.
    out = decider.handle(evicted(ids, [b"/d/b"], "e2"))
    [work] = of_type(out, DeleteObjectsRequested)
    assert work.object_keys == [PACK] and work.holding_id == 3
    # Redelivered, the same request again (the deleter's removal is idempotent).
    again = decider.handle(evicted(ids, [b"/d/b"], "e2"))
    assert [o.event.event_id for o in again] == [work.event_id]


def test_the_slice_counts_are_rebuilt_by_replaying_the_facts():
    decider, ids, facts = packed_holding()
    facts += catalog_facts(decider.handle(archived(ids)))
    facts += catalog_facts(decider.handle(evicted(ids, [b"/d/a"], "e1")))
    replayed = CatalogState(partition=2, partitions=6)
    for fact in facts:
        replayed.apply(fact)
    assert replayed.pack_slices == decider.state.pack_slices == {PACK: 1}


def test_an_eviction_report_for_a_holding_outside_this_fold_removes_no_pack():
    decider = new_decider()  # knows no holding 3: its slices are counted elsewhere
    ids = {p: file_id(3, "t1", p) for p in PATHS}
    out = decider.handle(evicted(ids, [b"/d/a", b"/d/b"], "e1"))
    assert removals(out) == []
