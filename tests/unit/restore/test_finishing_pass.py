"""The finishing pass of a GET of several sub-batches (decision D34): the directories
the GET made get their cataloged mode and mtime back once their contents are in place;
those it found existing, or that are gone, are left alone."""

from __future__ import annotations

import os
import stat

from events.catalog import CatalogedFile, SelectedFile
from processors.transfer_get.finishing import GONE
from processors.transfer_get.restoring import Outcome, finish_batch, restore_batch
from stores.posix.requesters import Requester

from .conftest import (
    ALICE,
    ALICE_UID,
    MTIME_NS,
    STRANGER,
    FakeStore,
    dir_entry,
    file_entry,
    made_dir,
    mode_of,
    needs_root,
    owner,
    session,
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
    """The directory sub-batch, then a file sub-batch writing into the directories, each
    in a worker of its own as transfer-get runs them."""
    with session() as files:
        made = restore_batch(store, files, directories(), target, overwrite=False).created
    entries = [store.put(file_entry(p, b"x"), b"x") for p in (b"/run/deep/a", b"/old/b")]
    selected = [as_selected(f, 10 + i) for i, f in enumerate(entries)]
    with session() as files:
        outcome = restore_batch(store, files, selected, target, overwrite=False)
    assert outcome.failed == [] and outcome.created == []
    return made


def finish(wanted: list[SelectedFile], target: bytes | None, who: Requester = ALICE) -> Outcome:
    """The finishing pass, in a worker of its own."""
    with session(who) as files:
        return finish_batch(files, wanted, target)


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
    outcome = finish(wanted, target)
    assert outcome.failed == []
    assert sorted(r["file_id"] for r in outcome.restored) == [1, 2]
    for path, mode in ((b"/run", 0o750), (b"/run/deep", 0o705)):
        st = os.stat(target + path)
        assert (st.st_mtime_ns, stat.S_IMODE(st.st_mode)) == (MTIME_NS, mode)
        assert (st.st_uid, st.st_gid) == (ALICE_UID, ALICE_UID)
    after = os.stat(found)
    assert (after.st_mtime_ns, after.st_mode) == (before.st_mtime_ns, before.st_mode)


@needs_root
def test_a_directory_gone_or_replaced_is_skipped_and_the_others_finished(store, target):
    made = restore_as_the_decider_plans_it(store, target)
    os.rename(target + b"/run/deep", target + b"/moved")
    with open(target + b"/run/deep", "wb"):
        pass  # a file where the directory was
    wanted = [d for d in directories() if d["path"] in made]
    outcome = finish(wanted, target)
    assert sorted(r["path"] for r in outcome.restored) == [b"/old", b"/run"]
    [skipped] = outcome.failed
    assert skipped["path"] == b"/run/deep" and not skipped["retryable"]
    assert os.stat(target + b"/run").st_mtime_ns == MTIME_NS
    os.unlink(target + b"/run/deep")
    outcome = finish(wanted, target)
    assert [(f["path"], f["reason"]) for f in outcome.failed] == [(b"/run/deep", GONE)]


@needs_root
def test_directories_are_finished_deepest_first(store, target):
    # A parent finished first would shut its owner out of the children (no search bit).
    wanted = [
        as_selected(dir_entry(b"/locked", mode=stat.S_IFDIR | 0o600), 1),
        as_selected(dir_entry(b"/locked/deep", mode=stat.S_IFDIR | 0o705), 2),
    ]
    with session() as files:
        made = restore_batch(store, files, wanted, target, overwrite=False).created
    assert made == [b"/locked", b"/locked/deep"]
    os.chmod(target + b"/locked", 0o700)  # set back, as a later sub-batch finds it
    outcome = finish(wanted, target)
    assert outcome.failed == []
    assert [r["path"] for r in outcome.restored] == [b"/locked/deep", b"/locked"]
    assert (mode_of(target + b"/locked"), mode_of(target + b"/locked/deep")) == (0o600, 0o705)


@needs_root
def test_in_place_the_finishing_pass_works_on_the_original_places(store, public_dir):
    home = made_dir(public_dir + b"/home", 0o755, ALICE_UID)
    entries = [as_selected(dir_entry(home + b"/d", mode=stat.S_IFDIR | 0o751, uid=0), 1)]
    with session() as files:
        assert restore_batch(store, files, entries, None, overwrite=False).created == [home + b"/d"]
    os.utime(home + b"/d", ns=(1, 1))
    outcome = finish(entries, None)
    assert outcome.failed == []
    assert (mode_of(home + b"/d"), os.stat(home + b"/d").st_mtime_ns) == (0o751, MTIME_NS)
    assert owner(home + b"/d") == (ALICE_UID, ALICE_UID)


@needs_root
def test_only_the_requester_may_finish_their_directories(store, target):
    made = restore_as_the_decider_plans_it(store, target)
    wanted = [d for d in directories() if d["path"] in made]
    os.chmod(target + b"/run", 0o700)
    before = os.stat(target + b"/run")
    outcome = finish(wanted, target, who=STRANGER)
    assert outcome.restored == [] and len(outcome.failed) == len(wanted) == 3
    assert all("Permission denied" in f["reason"] for f in outcome.failed)
    after = os.stat(target + b"/run")
    assert (after.st_mode, after.st_mtime_ns) == (before.st_mode, before.st_mtime_ns)


@needs_root
def test_a_directory_swapped_for_a_link_is_not_finished_through_it(store, public_dir, target):
    made = restore_as_the_decider_plans_it(store, target)
    victim = made_dir(public_dir + b"/victim", 0o700)
    os.rename(target + b"/run/deep", target + b"/moved")
    os.symlink(victim, target + b"/run/deep")
    wanted = [d for d in directories() if d["path"] in made]
    outcome = finish(wanted, target)
    assert [(f["path"], f["reason"]) for f in outcome.failed] == [(b"/run/deep", GONE)]
    assert (owner(victim), mode_of(victim)) == ((0, 0), 0o700)
    assert os.stat(victim).st_mtime_ns != MTIME_NS
