"""The decider's fold saved in its store (D190): what a checkpoint saves comes back whole,
what came after it is folded again from the log, and memory holds only what changed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from events.base import Event
from processors.catalog.decider import Decider
from processors.catalog.state import CatalogState
from processors.catalog.store import StoreTaken
from tests.unit.catalog.stories import delete, objects_deleted, stored
from tests.unit.catalog.test_decider import catalog_facts, entry, put


class Logged:
    """A decider whose catalog facts go to a list standing for its log partition."""

    def __init__(self, state: CatalogState) -> None:
        self.decider = Decider(state, clock=lambda: 7)
        self.log: list[Event] = []
        self.handle = self.handle_  # what stories.stored calls

    @property
    def state(self) -> CatalogState:
        return self.decider.state

    def handle_(self, event: Event) -> list:
        out = self.decider.handle(event)
        for fact in catalog_facts(out):
            self.log.append(fact)
            self.state.folded(len(self.log) - 1, fact.event_id)
        return out


def summary(state: CatalogState) -> dict:
    keys = sorted(state.files.keys())
    return {
        "files": {key: state.files[key] for key in keys},
        "labels": state.labels,
        "cache_bytes": state.cache_bytes,
        "pack_slices": state.pack_slices,
        "next_holding_id": state.next_holding_id(),
        "transactions": {
            t: (x.finished, x.files_ok, x.files_failed, x.bytes_ok)
            for t in ("t1", "t2", "x1", "t3")
            if (x := state.transactions.get(t)) is not None
        },
    }


def reopen(path: Path, log: list[Event]) -> CatalogState:
    """What a restarted decider does: the checkpoint, then the log after it."""
    state = CatalogState.open(path, partition=2, partitions=6)
    for offset in range(state.offset, len(log)):
        state.apply(log[offset])
        state.folded(offset, log[offset].event_id)
    return state


def test_a_restart_reads_the_checkpoint_and_folds_only_what_came_after(tmp_path):
    path = tmp_path / "catalog-2.sqlite"
    live = Logged(CatalogState.open(path, partition=2, partitions=6))
    holding = stored(live, "t1", "run", [entry(b"/d"), entry(b"/d/a"), entry(b"/d/b")])
    live.handle(delete("x1", [b"/d/a"]))
    live.handle(objects_deleted("x1", 0, holding, ["k"]))
    live.state.checkpoint()
    saved_at = live.state.offset
    stored(live, "t2", "run", [entry(b"/d/c", size=5)])  # after the checkpoint: log only
    stored(live, "t3", "other", [entry(b"/e")])

    restarted = reopen(path, live.log)
    assert 0 < saved_at < len(live.log)
    assert summary(restarted) == summary(live.state)
    assert [p for p, _ in restarted.holding_files(holding)] == [b"/d", b"/d/b", b"/d/c"]


def test_facts_folded_again_after_a_restart_change_nothing(tmp_path):
    path = tmp_path / "catalog-2.sqlite"
    live = Logged(CatalogState.open(path, partition=2, partitions=6))
    holding = stored(live, "t1", "run", [entry(b"/d"), entry(b"/d/a")])
    live.handle(delete("x1", [b"/d/a"]))
    live.handle(objects_deleted("x1", 0, holding, ["k"]))
    live.state.checkpoint()
    live.state.store.close()

    restarted = CatalogState.open(path, partition=2, partitions=6)
    for fact in live.log:  # a redelivery of every fact already saved
        restarted.apply(fact)
    assert summary(restarted) == summary(CatalogState.open(path, 2, 6))
    assert restarted.transactions["t1"].files_ok == 2  # not counted twice


def test_memory_holds_only_what_changed_since_the_checkpoint(tmp_path):
    live = Logged(CatalogState.open(tmp_path / "c.sqlite", partition=2, partitions=6))
    files = [entry(b"/big")] + [entry(b"/big/f%04d" % n) for n in range(3000)]
    holding = stored(live, "t1", "run", files)
    assert live.state.unsaved() >= 3000
    live.state.checkpoint()
    assert live.state.unsaved() == 0
    assert not live.state.transactions.live  # finished: in the store only
    # ... and still known: its owner keeps the id (D111), its files their entries.
    assert live.state.transactions["t1"].user == "alice"
    assert live.state.files[(holding, b"/big/f2999")].stored
    assert len(live.state.holding_files(holding)) == 3001
    assert live.state.unsaved() == 1  # the entry read above, not the 3,001 listed


def test_a_new_version_of_a_path_is_found_by_its_own_file_id_only(tmp_path):
    live = Logged(CatalogState.open(tmp_path / "c.sqlite", partition=2, partitions=6))
    holding = stored(live, "t1", "run", [entry(b"/d"), entry(b"/d/a")])
    live.handle(delete("x1", [b"/d/a"]))
    live.handle(objects_deleted("x1", 0, holding, ["k"]))
    live.state.checkpoint()
    stored(live, "t2", "run", [entry(b"/d/a")])  # the path again, from another PUT
    from domain.ids import file_id

    old, new = file_id(holding, "t1", b"/d/a"), file_id(holding, "t2", b"/d/a")
    assert live.state.entry_of(holding, old, b"/d/a") is None
    assert live.state.entry_of(holding, new, b"/d/a") is not None
    live.state.checkpoint()
    again = CatalogState.open(tmp_path / "c.sqlite", partition=2, partitions=6)
    assert again.entry_of(holding, old, b"/d/a") is None
    assert again.entry_of(holding, new, b"/d/a") is not None


def test_a_store_checkpointed_by_another_process_is_not_overwritten(tmp_path):
    path = tmp_path / "c.sqlite"
    first = Logged(CatalogState.open(path, partition=2, partitions=6))
    second = Logged(CatalogState.open(path, partition=2, partitions=6))
    stored(first, "t1", "run", [entry(b"/a")])
    first.state.checkpoint()
    stored(second, "t2", "run", [entry(b"/b")])
    with pytest.raises(StoreTaken):
        second.state.checkpoint()
    assert CatalogState.open(path, 2, 6).files.keys() == first.state.files.keys()


def test_a_store_of_another_format_is_read_as_empty(tmp_path):
    path = tmp_path / "c.sqlite"
    live = Logged(CatalogState.open(path, partition=2, partitions=6))
    stored(live, "t1", "run", [entry(b"/a")])
    live.state.checkpoint()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = 0 WHERE key = 'format'")
    again = CatalogState.open(path, 2, 6)
    assert again.offset == 0
    assert not again.files.keys()
    assert again.transactions.get("t1") is None


def test_the_store_is_private(tmp_path):
    path = tmp_path / "state" / "c.sqlite"
    CatalogState.open(path, 2, 6).checkpoint()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_a_put_after_a_checkpoint_sees_the_paths_saved(tmp_path):
    path = tmp_path / "c.sqlite"
    live = Logged(CatalogState.open(path, partition=2, partitions=6))
    stored(live, "t1", "run", [entry(b"/a")])
    live.state.checkpoint()
    again = Logged(CatalogState.open(path, partition=2, partitions=6))
    again.log = list(live.log)
    out = again.handle(put("t2", label="run"))
    assert out  # accepted into the same holding, whose label the checkpoint kept
    assert again.state.labels[("alice", "run")] == live.state.labels[("alice", "run")]


def test_a_checkpoint_writes_only_the_transactions_changed_since_the_last(tmp_path):
    live = Logged(CatalogState.open(tmp_path / "c.sqlite", partition=2, partitions=6))
    live.handle(put("t1", label="one"))
    live.handle(put("t2", label="two"))
    live.state.checkpoint()
    db = live.state.store.db
    marked = db.execute("SELECT body FROM transactions WHERE transaction_id = 't1'").fetchone()[0]
    db.execute("UPDATE transactions SET body = ? WHERE transaction_id = 't1'", (marked + b"x",))
    db.commit()

    live.handle(put("t3", label="three"))  # t1 and t2 are still unfinished, untouched
    live.state.checkpoint()
    assert set(live.state.transactions.live) == {"t1", "t2", "t3"}
    rows = dict(db.execute("SELECT transaction_id, body FROM transactions"))
    assert rows["t1"] == marked + b"x"  # not written again
    assert "t3" in rows
