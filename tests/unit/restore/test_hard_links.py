"""A GET sub-batch restores a link group as one inode (decision D133): the file fetched is
written as any other, and the worker makes the others hard links of that very file,
through the descriptor it kept open, as the requester."""

from __future__ import annotations

import os

from events.catalog import SelectedFile
from processors.transfer_get.restoring import Outcome, restore_batch
from stores.failures import CORRUPT

from .conftest import (
    ALICE,
    ALICE_UID,
    MTIME_NS,
    FakeStore,
    dir_entry,
    file_entry,
    made_file,
    needs_root,
    owner,
    partials,
    read,
    session,
)

DATA = b"shared content"


def linked(
    path: bytes, leader: bytes, file_id: int, store: FakeStore | None = None
) -> SelectedFile:
    """A selected file of the link group whose fetched file is ``leader``; only the
    leader's copy is put in the store, as only it is read."""
    entry = file_entry(path, DATA)
    if store is not None:
        store.put(entry, DATA)
    return SelectedFile(**entry, file_id=file_id, holding_id=1, link_group=leader)


def group(store: FakeStore) -> list[SelectedFile]:
    """/run/a (fetched) with /run/b and /run/sub/c made links of it, and a plain file."""
    plain = SelectedFile(
        **store.put(file_entry(b"/run/p", b"plain"), b"plain"), file_id=9, holding_id=1
    )
    return [
        SelectedFile(**dir_entry(b"/run"), file_id=1, holding_id=1),
        SelectedFile(**dir_entry(b"/run/sub"), file_id=2, holding_id=1),
        linked(b"/run/a", b"/run/a", 3, store),
        linked(b"/run/b", b"/run/a", 4),
        linked(b"/run/sub/c", b"/run/a", 5),
        plain,
    ]


def restore_as_alice(
    store: FakeStore, entries: list[SelectedFile], target: bytes, overwrite: bool = False
) -> Outcome:
    with session(ALICE) as files:
        return restore_batch(store, files, entries, target, overwrite)


def inode(path: bytes) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_dev, st.st_ino


@needs_root
def test_a_link_group_comes_back_as_one_inode_fetched_once(store, target):
    outcome = restore_as_alice(store, group(store), target)

    assert outcome.failed == []
    assert sorted(r["file_id"] for r in outcome.restored) == [1, 2, 3, 4, 5, 9]
    names = [target + p for p in (b"/run/a", b"/run/b", b"/run/sub/c")]
    assert len({inode(n) for n in names}) == 1
    assert os.lstat(names[0]).st_nlink == 3
    assert read(names[2]) == DATA and owner(names[1]) == (ALICE_UID, ALICE_UID)
    assert os.lstat(names[1]).st_mtime_ns == MTIME_NS
    assert os.lstat(target + b"/run/p").st_nlink == 1
    assert len(store.downloads) == 2  # /run/a and /run/p: the links read nothing
    # bytes written count once, for the file fetched
    assert {r["path"]: r["size"] for r in outcome.restored}[b"/run/b"] == 0
    assert partials(target + b"/run") == [] and partials(target + b"/run/sub") == []


@needs_root
def test_a_redelivered_sub_batch_finds_the_links_made(store, target):
    files = group(store)
    restore_as_alice(store, files, target)
    fetched = len(store.downloads)

    again = restore_as_alice(store, files, target)

    assert again.failed == [] and len(again.restored) == 6
    assert len(store.downloads) == fetched
    assert os.lstat(target + b"/run/a").st_nlink == 3


@needs_root
def test_links_missing_after_an_interrupted_attempt_are_made_of_the_file_in_place(store, target):
    files = group(store)
    restore_as_alice(store, files, target)
    os.unlink(target + b"/run/b")  # as if the worker had died before linking it

    again = restore_as_alice(store, files, target)

    assert again.failed == []
    assert inode(target + b"/run/b") == inode(target + b"/run/a")


@needs_root
def test_a_file_in_place_that_is_not_the_requesters_is_never_linked(store, target):
    files = group(store)
    restore_as_alice(store, files, target)
    for name in (b"/run/a", b"/run/b", b"/run/sub/c"):
        os.unlink(target + name)
    # root's own file with the cataloged size and mtime, given the fetched file's name
    secret = made_file(target + b"/secret", DATA, mode=0o600, uid=0)
    os.utime(secret, ns=(MTIME_NS, MTIME_NS))
    os.link(secret, target + b"/run/a")

    again = restore_as_alice(store, files, target)

    reasons = {f["path"]: f["reason"] for f in again.failed}
    assert set(reasons) == {b"/run/b", b"/run/sub/c"}
    assert all("is not the file restored there" in r for r in reasons.values())
    assert os.lstat(secret).st_nlink == 2  # its name and /run/a, nothing more
    assert not os.path.lexists(target + b"/run/b")


@needs_root
def test_when_the_fetched_file_fails_its_links_fail_with_its_reason(store, target):
    files = group(store)
    store.objects[files[2]["object_key"] or ""] = b"x" * len(DATA)  # corrupt copy

    outcome = restore_as_alice(store, files, target)

    reasons = {f["path"]: f["reason"] for f in outcome.failed}
    assert reasons[b"/run/a"] == CORRUPT
    assert reasons[b"/run/b"] == f"a hard link of /run/a, which could not be restored: {CORRUPT}"
    assert b"/run/sub/c" in reasons
    assert not os.path.lexists(target + b"/run/b")
    assert partials(target + b"/run") == []


@needs_root
def test_when_the_fetched_files_name_is_taken_its_links_are_still_made(store, target):
    files = group(store)
    os.makedirs(target + b"/run")
    os.chown(target + b"/run", ALICE_UID, ALICE_UID)
    made_file(target + b"/run/a", b"mine", uid=ALICE_UID)

    outcome = restore_as_alice(store, files, target)

    assert [(f["path"], f["reason"]) for f in outcome.failed] == [
        (b"/run/a", "exists; use overwrite to replace it")
    ]
    assert read(target + b"/run/a") == b"mine"
    assert read(target + b"/run/b") == DATA
    assert inode(target + b"/run/b") == inode(target + b"/run/sub/c")
    assert os.lstat(target + b"/run/b").st_nlink == 2
    assert partials(target + b"/run") == []


@needs_root
def test_overwrite_replaces_a_link_in_the_way_without_following_it(store, target):
    files = group(store)
    os.makedirs(target + b"/run")
    os.chown(target + b"/run", ALICE_UID, ALICE_UID)
    precious = made_file(target + b"/precious", b"root's", mode=0o644, uid=0)
    os.symlink(precious, target + b"/run/b")
    os.lchown(target + b"/run/b", ALICE_UID, ALICE_UID)

    outcome = restore_as_alice(store, files, target, overwrite=True)

    assert outcome.failed == []
    assert inode(target + b"/run/b") == inode(target + b"/run/a")
    assert read(precious) == b"root's" and os.lstat(precious).st_nlink == 1


@needs_root
def test_a_link_whose_fetched_file_is_not_in_the_sub_batch_is_refused(store, target):
    files = [f for f in group(store) if f["path"] != b"/run/a"]

    outcome = restore_as_alice(store, files, target)

    reasons = {f["path"]: f["reason"] for f in outcome.failed}
    assert set(reasons) == {b"/run/b", b"/run/sub/c"}
    assert "which this request does not restore" in reasons[b"/run/b"]
    assert not os.path.lexists(target + b"/run/b")
