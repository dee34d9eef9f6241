"""The finishing pass of a GET of several sub-batches (decision D34): the directories
the GET made get their cataloged mode and mtime back once their contents are in place;
those it found existing, or that are gone, are left alone."""

from __future__ import annotations

import os
import stat

from events.catalog import CatalogedFile, SelectedFile
from processors.restore.finishing import GONE
from processors.transfer_get.restoring import finish_batch, restore_batch

from .conftest import (
    ALICE,
    ALICE_UID,
    MTIME_NS,
    FakeStore,
    dir_entry,
    file_entry,
    made_dir,
    needs_root,
)

EARLIER_NS = 1_000_000_000_000_000_000


def as_selected(entry: CatalogedFile, file_id: int) -> SelectedFile:
    return SelectedFile(**entry, file_id=file_id, holding_id=1)


def directories() -> list[SelectedFile]:
    return [
        as_selected(dir_entry(b"/run", mode=stat.S_IFDIR | 0o750), 1),
        as_selected(dir_entry(b"/run/deep", mode=stat.S_IFDIR | 0o705), 2),
        as_selected(dir_entry(b"/old", mode=stat.S_IFDIR | 0o711, mtime_ns=EARLIER_NS), 3),
    ]


def restore_as_the_decider_plans_it(store: FakeStore, target: bytes) -> list[bytes]:
    """The directory sub-batch, then a file sub-batch writing into the directories."""
    made = restore_batch(store, directories(), target, ALICE, overwrite=False).created
    files = [store.put(file_entry(p, b"x"), b"x") for p in (b"/run/deep/a", b"/old/b")]
    outcome = restore_batch(
        store, [as_selected(f, 10 + i) for i, f in enumerate(files)], target, ALICE, overwrite=False
    )
    assert outcome.failed == [] and outcome.created == []
    return made


@needs_root
def test_the_directory_pass_reports_the_directories_it_made_not_those_it_found(store, target):
    made_dir(target + b"/old", 0o700, ALICE_UID)
    assert restore_as_the_decider_plans_it(store, target) == [b"/run", b"/run/deep"]


@needs_root
def test_the_finishing_pass_resets_made_directories_and_leaves_found_ones(store, target):
    found = made_dir(target + b"/old", 0o700, ALICE_UID)
    made = restore_as_the_decider_plans_it(store, target)
    before = os.stat(found)
    assert os.stat(target + b"/run/deep").st_mtime_ns != MTIME_NS  # written into since
    wanted = [d for d in directories() if d["path"] in made]
    outcome = finish_batch(wanted, target, ALICE)
    assert outcome.failed == []
    assert sorted(r["file_id"] for r in outcome.restored) == [1, 2]
    for path, mode in ((b"/run", 0o750), (b"/run/deep", 0o705)):
        st = os.stat(target + path)
        assert (st.st_mtime_ns, stat.S_IMODE(st.st_mode)) == (MTIME_NS, mode)
        assert st.st_uid == ALICE_UID
    after = os.stat(found)
    assert (after.st_mtime_ns, after.st_mode) == (before.st_mtime_ns, before.st_mode)


@needs_root
def test_a_directory_gone_or_replaced_is_skipped_and_the_others_finished(store, target):
    made = restore_as_the_decider_plans_it(store, target)
    os.rename(target + b"/run/deep", target + b"/moved")
    with open(target + b"/run/deep", "wb"):
        pass  # a file where the directory was
    wanted = [d for d in directories() if d["path"] in made]
    outcome = finish_batch(wanted, target, ALICE)
    assert sorted(r["path"] for r in outcome.restored) == [b"/old", b"/run"]
    [skipped] = outcome.failed
    assert skipped["path"] == b"/run/deep" and not skipped["retryable"]
    assert os.stat(target + b"/run").st_mtime_ns == MTIME_NS
    os.unlink(target + b"/run/deep")
    outcome = finish_batch(wanted, target, ALICE)
    assert [(f["path"], f["reason"]) for f in outcome.failed] == [(b"/run/deep", GONE)]
