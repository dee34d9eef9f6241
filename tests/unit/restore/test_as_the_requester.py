"""A restore acts with the requester's own credentials: what it makes is theirs, the
kernel decides where they may write, and no link below the target leads the writes
elsewhere. Each attack here must fail whatever the test process (root) could do."""

from __future__ import annotations

import os
import stat

import pytest

from processors.transfer_get.restore import Refusal, plan, restore
from stores.posix.requesters import Requester
from stores.posix.session import UserFiles

from .conftest import (
    ALICE,
    ALICE_UID,
    MTIME_NS,
    ORIGINAL_UID,
    STRANGER,
    STRANGER_UID,
    TEAM_GID,
    dir_entry,
    failures,
    file_entry,
    link_entry,
    made_dir,
    made_file,
    mode_of,
    needs_root,
    owner,
    partials,
    read,
    restored,
    session,
)

pytestmark = needs_root

DENIED = ("Permission denied", "no permission")
MEMBER = Requester("member", STRANGER_UID, frozenset([STRANGER_UID, TEAM_GID]), STRANGER_UID)


def denied(reason: str) -> bool:
    return any(words in reason for words in DENIED)


def listing(folder: bytes) -> dict[bytes, tuple[int, int, int, bytes]]:
    """Each entry of ``folder``: owner, group, mode and content (or link text)."""
    found = {}
    for name in os.listdir(folder):
        path = folder + b"/" + name
        st = os.lstat(path)
        data = os.readlink(path) if stat.S_ISLNK(st.st_mode) else read(path)
        found[name] = (st.st_uid, st.st_gid, st.st_mode, data)
    return found


@pytest.fixture
def root_owned(public_dir: bytes) -> bytes:
    """A root-owned folder anyone may write (no sticky bit), holding root's files."""
    folder = made_dir(public_dir + b"/root-owned", 0o777)
    made_file(folder + b"/a", b"root's secret", mode=0o600)
    made_file(folder + b"/b", b"root's config", mode=0o644)
    return folder


def swapping_before_files(monkeypatch, files: UserFiles, swap) -> None:
    """Run ``swap`` once the folders are made, just before the files are created."""
    create_files = files.create_files

    def swapped(rows, **more):
        swap()
        return create_files(rows, **more)

    monkeypatch.setattr(files, "create_files", swapped)


# -- ownership: always the requester --------------------------------------------------


def test_in_place_a_root_entry_is_restored_as_the_requesters(store, public_dir):
    home = made_dir(public_dir + b"/home", 0o755, ALICE_UID)
    files = [
        dir_entry(home + b"/d", uid=0, gid=0),
        store.put(file_entry(home + b"/d/a", b"alpha", uid=0, gid=0), b"alpha"),
        store.put(file_entry(home + b"/b", b"beta", uid=ORIGINAL_UID), b"beta"),
        link_entry(home + b"/d/l", b"a", uid=0, gid=0),
    ]
    outcomes = restored(store, files, None)
    assert failures(outcomes) == {}
    for entry in files:
        assert owner(entry["path"]) == (ALICE_UID, ALICE_UID), entry["path"]
        assert os.lstat(entry["path"]).st_mtime_ns == MTIME_NS
    assert read(home + b"/d/a") == b"alpha"


def test_in_place_an_existing_root_file_is_not_given_to_anyone(store, public_dir):
    home = made_dir(public_dir + b"/home", 0o755, ALICE_UID)
    made_file(home + b"/a", b"root's", mode=0o600)
    entry = store.put(file_entry(home + b"/a", b"new", uid=0, gid=0), b"new")
    assert restored(store, [entry], None).results == [
        Refusal(home + b"/a", "exists; use overwrite to replace it")
    ]
    assert (owner(home + b"/a"), mode_of(home + b"/a")) == ((0, 0), 0o600)
    assert failures(restored(store, [entry], None, overwrite=True)) == {}
    assert owner(home + b"/a") == (ALICE_UID, ALICE_UID)  # replaced by hers, as mv would


def test_the_group_is_the_requesters_primary_group(store, target):
    who = Requester("alice", ALICE_UID, frozenset([ALICE_UID, TEAM_GID]), TEAM_GID)
    files = [dir_entry(b"/d"), store.put(file_entry(b"/d/a", b"x"), b"x"), link_entry(b"/l", b"d")]
    assert failures(restored(store, files, target, who=who)) == {}
    for entry in files:
        assert owner(target + entry["path"]) == (ALICE_UID, TEAM_GID), entry["path"]


def test_in_a_set_gid_folder_the_group_is_the_folders(store, public_dir):
    project = made_dir(public_dir + b"/project", 0o2775, gid=TEAM_GID)  # root's
    who = Requester("alice", ALICE_UID, frozenset([ALICE_UID, TEAM_GID]), ALICE_UID)
    files = [
        store.put(file_entry(b"/a", b"x"), b"x"),
        store.put(file_entry(b"/implied/b", b"x"), b"x"),
        dir_entry(b"/d", mode=stat.S_IFDIR | 0o750),
        store.put(file_entry(b"/d/c", b"x"), b"x"),
        link_entry(b"/l", b"a"),
    ]
    assert failures(restored(store, files, project, who=who)) == {}
    for path in (b"/a", b"/implied", b"/implied/b", b"/d", b"/d/c", b"/l"):
        assert owner(project + path) == (ALICE_UID, TEAM_GID), path
    assert mode_of(project + b"/implied") == 0o2755  # inherited, as mkdir's would be
    assert mode_of(project + b"/d") == 0o750  # the cataloged mode, once finished
    assert mode_of(project + b"/a") == 0o640  # never set-id on a file


# -- permissions: the kernel's, for the requester ---------------------------------------


def test_a_requester_who_cannot_write_the_target_is_refused_and_nothing_is_made(store, target):
    files = [
        dir_entry(b"/d"),
        store.put(file_entry(b"/d/a", b"x"), b"x"),
        store.put(file_entry(b"/b", b"x"), b"x"),
        link_entry(b"/l", b"b"),
    ]
    reasons = failures(restored(store, files, target, who=STRANGER))
    assert set(reasons) == {b"/d", b"/d/a", b"/b", b"/l"}
    assert all(denied(reason) for reason in reasons.values()), reasons
    assert os.listdir(target) == []
    assert store.downloads == []


def test_a_target_below_a_folder_the_requester_cannot_write_is_not_made(store, public_dir):
    entry = store.put(file_entry(b"/a", b"x"), b"x")
    reasons = failures(restored(store, [entry], public_dir + b"/new"))  # root's 0755
    assert denied(reasons[b"/a"])
    assert os.listdir(public_dir) == []


def test_in_place_a_root_folder_is_not_written(store, public_dir):
    system = made_dir(public_dir + b"/etc", 0o755)
    made_file(system + b"/passwd", b"root:x:0:0", mode=0o644)
    files = [
        store.put(file_entry(system + b"/passwd", b"alice::0:0", uid=0, gid=0), b"alice::0:0"),
        store.put(file_entry(system + b"/new", b"x", uid=0, gid=0), b"x"),
        dir_entry(system + b"/sub", uid=0, gid=0),
        link_entry(system + b"/l", b"/", uid=0, gid=0),
    ]
    reasons = failures(restored(store, files, None, overwrite=True))
    assert set(reasons) == {f["path"] for f in files}
    assert all(denied(reason) for reason in reasons.values()), reasons
    assert listing(system) == {b"passwd": (0, 0, stat.S_IFREG | 0o644, b"root:x:0:0")}


def test_an_existing_folder_the_requester_cannot_write(store, target):
    made_dir(target + b"/data", 0o755)  # root's, in alice's folder
    files = [dir_entry(b"/data"), store.put(file_entry(b"/data/a", b"x"), b"x")]
    outcomes = restored(store, files, target)
    assert [o.path for o in outcomes.results if not isinstance(o, Refusal)] == [b"/data"]
    assert denied(failures(outcomes)[b"/data/a"])  # nothing to write for the folder itself
    assert os.listdir(target + b"/data") == []


def test_a_folder_the_requester_cannot_reach(store, public_dir):
    private = made_dir(public_dir + b"/private", 0o700, ALICE_UID)
    made_dir(private + b"/open", 0o777)
    entry = store.put(file_entry(b"/a", b"x"), b"x")
    reasons = failures(restored(store, [entry], private + b"/open", who=STRANGER))
    assert denied(reasons[b"/a"]), reasons
    assert os.listdir(private + b"/open") == []


def test_group_members_may_write_a_group_folder(store, public_dir):
    shared = made_dir(public_dir + b"/shared", 0o770, gid=TEAM_GID)
    entry = store.put(file_entry(b"/a", b"x"), b"x")
    assert denied(failures(restored(store, [entry], shared, who=STRANGER))[b"/a"])
    assert failures(restored(store, [entry], shared, who=MEMBER)) == {}
    assert owner(shared + b"/a") == (STRANGER_UID, STRANGER_UID)


def test_in_a_sticky_folder_only_a_files_owner_replaces_it(store, public_dir):
    sticky = made_dir(public_dir + b"/sticky", stat.S_ISVTX | 0o777)
    made_file(sticky + b"/theirs", b"theirs", mode=0o666, uid=STRANGER_UID)
    theirs = store.put(file_entry(b"/theirs", b"mine"), b"mine")
    new = store.put(file_entry(b"/new", b"mine"), b"mine")
    reasons = failures(restored(store, [theirs, new], sticky, overwrite=True))
    assert reasons == {b"/theirs": "could not finish the file: Operation not permitted"}
    assert (read(sticky + b"/theirs"), owner(sticky + b"/theirs")[0]) == (b"theirs", STRANGER_UID)
    assert owner(sticky + b"/new")[0] == ALICE_UID
    assert partials(sticky) == []
    assert failures(restored(store, [theirs], sticky, overwrite=True, who=STRANGER)) == {}
    assert read(sticky + b"/theirs") == b"mine"


def test_a_read_only_file_in_the_requesters_folder_is_replaced_with_overwrite(store, target):
    made_file(target + b"/a", b"old", mode=0o444, uid=0)  # as mv -f would: the folder decides
    entry = store.put(file_entry(b"/a", b"new"), b"new")
    assert failures(restored(store, [entry], target, overwrite=True)) == {}
    assert (read(target + b"/a"), owner(target + b"/a")) == (b"new", (ALICE_UID, ALICE_UID))


def test_in_place_a_link_on_the_way_is_followed_as_the_requesters_lookup_would(store, public_dir):
    private = made_dir(public_dir + b"/private", 0o700, STRANGER_UID)
    os.symlink(private, public_dir + b"/shortcut")
    entry = store.put(file_entry(public_dir + b"/shortcut/a", b"x"), b"x")
    assert denied(failures(restored(store, [entry], None))[entry["path"]])
    assert os.listdir(private) == []
    assert failures(restored(store, [entry], None, who=STRANGER)) == {}
    assert owner(private + b"/a") == (STRANGER_UID, STRANGER_UID)


def test_in_place_a_link_loop_on_the_way_is_refused(store, public_dir):
    os.symlink(b"b", public_dir + b"/a")
    os.symlink(b"a", public_dir + b"/b")
    entry = store.put(file_entry(public_dir + b"/a/file", b"x"), b"x")
    [reason] = failures(restored(store, [entry], None)).values()
    assert "Too many levels of symbolic links" in reason


def test_uid_0_and_system_accounts_get_no_worker():
    from stores.posix.requesters import RefusedRequester

    with pytest.raises(RefusedRequester, match="uid 0"):
        UserFiles(Requester("root", 0, frozenset([0]), 0), min_uid=1000)
    with pytest.raises(RefusedRequester, match="below the minimum uid 1000"):
        UserFiles(Requester("daemon", 2, frozenset([2]), 2), min_uid=1000)


# -- links below the target: never written through ------------------------------------


def test_a_folder_below_the_target_that_is_a_link_to_a_root_folder_is_not_written(
    store, target, root_owned
):
    os.symlink(root_owned, target + b"/data")
    before = listing(root_owned)
    files = [
        dir_entry(b"/data"),
        store.put(file_entry(b"/data/a", b"alice's"), b"alice's"),
        store.put(file_entry(b"/data/new", b"x"), b"x"),
        link_entry(b"/data/l", b"/"),
        dir_entry(b"/data/sub"),
    ]
    reasons = failures(restored(store, files, target, overwrite=True))
    assert set(reasons) == {f["path"] for f in files}
    assert all("is not a directory of the restore" in r for r in reasons.values()), reasons
    assert listing(root_owned) == before
    assert (owner(root_owned), mode_of(root_owned)) == ((0, 0), 0o777)
    assert store.downloads == []


def test_a_folder_swapped_for_a_link_to_a_root_folder_during_the_restore_is_not_written(
    store, target, root_owned, monkeypatch
):
    before = listing(root_owned)
    files = [
        dir_entry(b"/data", mode=stat.S_IFDIR | 0o777),
        store.put(file_entry(b"/data/a", b"alice's"), b"alice's"),
        store.put(file_entry(b"/data/new", b"x"), b"x"),
        link_entry(b"/data/l", b"/"),
    ]
    planned = plan(files, target, ALICE, overwrite=True)

    def swap() -> None:  # what the user does once the restore has made data/
        os.rename(target + b"/data", target + b"/data.old")
        os.symlink(root_owned, target + b"/data")

    with session() as worker:
        swapping_before_files(monkeypatch, worker, swap)
        outcomes = restore(planned, worker, store)
    assert set(failures(outcomes)) == {f["path"] for f in files}
    assert listing(root_owned) == before
    assert (owner(root_owned), mode_of(root_owned)) == ((0, 0), 0o777)  # never finished
    assert os.listdir(target + b"/data.old") == []
    assert store.downloads == []


def test_a_folder_swapped_for_a_link_after_its_files_were_opened_keeps_them_inside(
    store, target, root_owned, monkeypatch
):
    before = listing(root_owned)
    files = [dir_entry(b"/data"), store.put(file_entry(b"/data/a", b"alice's"), b"alice's")]
    planned = plan(files, target, ALICE, overwrite=True)
    download = store.download_into

    def swap_then_download(*args, **kw):  # the partial file exists; its folder is swapped
        os.rename(target + b"/data", target + b"/data.old")
        os.symlink(root_owned, target + b"/data")
        return download(*args, **kw)

    monkeypatch.setattr(store, "download_into", swap_then_download)
    with session() as worker:
        outcomes = restore(planned, worker, store)
    assert failures(outcomes).keys() == {b"/data"}  # its mode and mtime: not through a link
    assert read(target + b"/data.old/a") == b"alice's"  # committed where it was opened
    assert listing(root_owned) == before


def test_a_link_below_the_target_is_refused_even_pointing_back_inside(store, target):
    elsewhere = made_dir(target + b"/elsewhere", 0o755, ALICE_UID)
    made_dir(target + b"/real", 0o755, ALICE_UID)
    os.symlink(elsewhere, target + b"/real/deeper")
    entry = store.put(file_entry(b"/real/deeper/x/y", b"x"), b"x")
    [reason] = failures(restored(store, [entry], target)).values()
    assert f"{target.decode()}/real/deeper is not a directory of the restore" in reason
    assert os.listdir(elsewhere) == []
