"""Carrying a plan out on a real tree: contents, modes, mtimes, owners and links, exactly."""

from __future__ import annotations

import os
import stat

import pytest

from processors.restore.metadata import Owner, set_file_metadata
from processors.restore.restore import (
    EXISTS,
    IMPLIED_DIRECTORY_MODE,
    Refusal,
    Restored,
    apply,
    deepest_first,
    fetch,
    finish_directories,
    finish_file,
    make_directories,
    plan,
    restore_link,
)
from processors.transfer.failures import CORRUPT
from processors.transfer.outcomes import Failure, Stored

from .conftest import (
    ALICE,
    ALICE_UID,
    MTIME_NS,
    ORIGINAL_GID,
    ORIGINAL_UID,
    STRANGER_UID,
    FakeStore,
    dir_entry,
    file_entry,
    link_entry,
    made_dir,
    made_file,
    needs_root,
    read,
)

pytestmark = needs_root


def restored(store: FakeStore, files, target, overwrite=False):
    """Plan (expecting no refusal) and apply ``files``."""
    result = plan(files, target, ALICE, overwrite)
    assert result.refusals == []
    return apply(result, store)


def failures(outcomes) -> dict[bytes, str]:
    return {o.path: o.reason for o in outcomes if isinstance(o, Refusal)}


def test_a_tree_comes_back_below_the_target(store, target):
    files = [
        dir_entry(b"/data", mode=stat.S_IFDIR | 0o750, mtime_ns=MTIME_NS),
        dir_entry(b"/data/run", mode=stat.S_IFDIR | 0o700, mtime_ns=MTIME_NS + 1),
        store.put(file_entry(b"/data/run/a.nc", b"alpha", mode=0o100600), b"alpha"),
        store.put(file_entry(b"/data/b", b"", mode=0o100444, mtime_ns=5), b""),
        link_entry(b"/data/run/l", b"a.nc", mtime_ns=MTIME_NS + 2),
    ]
    outcomes = restored(store, files, target)
    assert failures(outcomes) == {}
    assert {o.path: o.destination for o in outcomes} == {
        f["path"]: target + f["path"] for f in files
    }
    assert read(target + b"/data/run/a.nc") == b"alpha"
    assert read(target + b"/data/b") == b""
    for entry in files:
        st = os.lstat(target + entry["path"])
        assert st.st_mtime_ns == entry["mtime_ns"], entry["path"]
        assert (st.st_uid, st.st_gid) == (ALICE_UID, ALICE_UID), entry["path"]
        assert stat.S_IFMT(st.st_mode) == stat.S_IFMT(entry["mode"])
        if entry["path_type"] != "LINK":
            assert stat.S_IMODE(st.st_mode) == stat.S_IMODE(entry["mode"]), entry["path"]
    assert os.readlink(target + b"/data/run/l") == b"a.nc"
    assert sorted(os.listdir(target + b"/data/run")) == [b"a.nc", b"l"]  # no partial files


def test_original_place_gets_the_original_owners_back(store, public_dir):
    home = made_dir(public_dir + b"/home", 0o755, ALICE_UID)
    files = [
        dir_entry(home + b"/d"),
        store.put(file_entry(home + b"/d/a", b"alpha"), b"alpha"),
        link_entry(home + b"/d/l", b"a"),
    ]
    outcomes = restored(store, files, None)
    assert failures(outcomes) == {}
    for entry in files:
        st = os.lstat(entry["path"])
        assert (st.st_uid, st.st_gid) == (ORIGINAL_UID, ORIGINAL_GID)
        assert st.st_mtime_ns == MTIME_NS


def test_implied_folders_belong_to_the_requester(store, public_dir):
    home = made_dir(public_dir + b"/home", 0o755, ALICE_UID)
    entry = store.put(file_entry(home + b"/new/deeper/a", b"x"), b"x")
    assert failures(restored(store, [entry], None)) == {}
    for folder in (home + b"/new", home + b"/new/deeper"):
        st = os.stat(folder)
        assert (st.st_uid, st.st_gid) == (ALICE_UID, ALICE_UID)
        assert stat.S_IMODE(st.st_mode) == IMPLIED_DIRECTORY_MODE
    assert os.stat(home + b"/new/deeper/a").st_uid == ORIGINAL_UID


@pytest.mark.parametrize(
    "name", [b"new\nline", b"with space", b"latin1-\xe9\xff", b" lead", b"-dash", b"\x01ctl"]
)
def test_odd_names_come_back_byte_for_byte(store, target, name):
    files = [dir_entry(b"/" + name), store.put(file_entry(b"/" + name + b"/" + name, name), name)]
    assert failures(restored(store, files, target)) == {}
    assert read(target + b"/" + name + b"/" + name) == name
    assert os.listdir(target + b"/" + name) == [name]


def test_file_modes_lose_set_id_bits_directory_modes_keep_setgid_and_sticky(store, target):
    files = [
        dir_entry(b"/shared", mode=stat.S_IFDIR | stat.S_ISGID | stat.S_ISVTX | 0o775),
        store.put(file_entry(b"/shared/tool", b"#!", mode=stat.S_IFREG | 0o6755), b"#!"),
    ]
    assert failures(restored(store, files, target)) == {}
    assert stat.S_IMODE(os.stat(target + b"/shared").st_mode) == 0o3775
    assert stat.S_IMODE(os.stat(target + b"/shared/tool").st_mode) == 0o755


def test_existing_directories_are_reused_untouched(store, target):
    existing = made_dir(target + b"/data", 0o711, ALICE_UID)
    os.utime(existing, ns=(1, 2))
    files = [dir_entry(b"/data", mode=0o40700), store.put(file_entry(b"/data/a", b"x"), b"x")]
    outcomes = restored(store, files, target)
    assert Restored(b"/data", existing) in outcomes
    st = os.stat(existing)
    assert stat.S_IMODE(st.st_mode) == 0o711  # the user's choice stays
    assert st.st_mtime_ns != 2  # a file was added: not set back, it is not ours
    assert read(existing + b"/a") == b"x"


def test_overwrite_replaces_files_and_links(store, target):
    made_file(target + b"/a", b"old", mode=0o666, uid=ALICE_UID)
    os.symlink(b"old-target", target + b"/l")
    os.symlink(b"/etc/passwd", target + b"/was-link")  # replaced, never written through
    files = [
        store.put(file_entry(b"/a", b"new"), b"new"),
        link_entry(b"/l", b"new-target"),
        store.put(file_entry(b"/was-link", b"data"), b"data"),
    ]
    outcomes = restored(store, files, target, overwrite=True)
    assert failures(outcomes) == {}
    assert read(target + b"/a") == b"new"
    assert os.readlink(target + b"/l") == b"new-target"
    assert not os.path.islink(target + b"/was-link")
    assert read(target + b"/was-link") == b"data"
    assert sorted(os.listdir(target)) == [b"a", b"l", b"was-link"]


def test_without_overwrite_a_link_that_appeared_since_planning_is_kept(store, target):
    result = plan([link_entry(b"/l", b"mine")], target, ALICE, overwrite=False)
    os.symlink(b"theirs", target + b"/l")
    assert apply(result, store) == [Refusal(b"/l", EXISTS)]
    assert os.readlink(target + b"/l") == b"theirs"


@pytest.mark.parametrize("link", [b"/no/such/place", b"../../../../etc", b"self", b"\xff\n"])
def test_links_come_back_as_links_never_followed(store, target, link):
    files = [link_entry(b"/l", link), link_entry(b"/self", b"self")]
    assert failures(restored(store, files, target)) == {}
    assert os.readlink(target + b"/l") == link
    assert os.readlink(target + b"/self") == b"self"  # a loop
    assert os.lstat(target + b"/l").st_mtime_ns == MTIME_NS


def test_a_corrupt_copy_leaves_nothing(store, target):
    entry = store.put(file_entry(b"/data/a", b"good"), b"evil")
    outcomes = restored(store, [dir_entry(b"/data"), entry], target)
    assert failures(outcomes) == {b"/data/a": CORRUPT}
    assert os.listdir(target + b"/data") == []
    assert os.stat(target + b"/data").st_mtime_ns == MTIME_NS  # still finished


def test_a_failed_download_keeps_the_existing_file(store, target):
    made_file(target + b"/a", b"before", mode=0o666, uid=ALICE_UID)
    entry = store.put(file_entry(b"/a", b"good"), b"evil")
    assert failures(restored(store, [entry], target, overwrite=True)) == {b"/a": CORRUPT}
    assert read(target + b"/a") == b"before"


def test_a_link_planted_after_planning_stops_the_writes(store, public_dir, target):
    elsewhere = made_dir(public_dir + b"/elsewhere", 0o777)
    files = [store.put(file_entry(b"/data/a", b"x"), b"x"), link_entry(b"/data/l", b"a")]
    result = plan(files, target, ALICE, overwrite=False)
    os.symlink(elsewhere, target + b"/data")
    outcomes = apply(result, store)
    assert set(failures(outcomes)) == {b"/data/a", b"/data/l"}
    assert store.downloads == []
    assert os.listdir(elsewhere) == []


def test_a_file_in_the_way_of_a_folder_fails_what_is_below_it(store, target):
    files = [store.put(file_entry(b"/data/a", b"x"), b"x"), link_entry(b"/data/sub/l", b"a")]
    result = plan(files, target, ALICE, overwrite=False)
    made_file(target + b"/data", uid=ALICE_UID)
    reasons = failures(apply(result, store))
    assert reasons == {
        b"/data/a": f"{target.decode()}/data is not a directory this restore may use",
        b"/data/sub/l": f"{target.decode()}/data is not a directory this restore may use",
    }


def test_directory_metadata_is_set_deepest_first_after_the_contents(store, target):
    files = [
        dir_entry(b"/a", mtime_ns=1_000),
        dir_entry(b"/a/b", mtime_ns=2_000),
        dir_entry(b"/a/b/c", mtime_ns=3_000),
        store.put(file_entry(b"/a/b/c/f", b"x"), b"x"),
        link_entry(b"/a/b/l", b"c"),
    ]
    placements, _ = plan(files, target, ALICE, overwrite=False)
    directories = [p for p in placements if p.entry["path_type"] == "DIRECTORY"]
    assert [p.path for p in deepest_first(directories)] == [b"/a/b/c", b"/a/b", b"/a"]
    restored(store, files, target)
    assert [os.stat(target + p).st_mtime_ns for p in (b"/a", b"/a/b", b"/a/b/c")] == [
        1_000,
        2_000,
        3_000,
    ]


def test_cataloged_folders_stay_private_until_finished(store, target):
    placements, _ = plan([dir_entry(b"/d", mode=0o40777)], target, ALICE, overwrite=False)
    made = make_directories(placements)
    assert stat.S_IMODE(os.stat(target + b"/d").st_mode) == 0o700
    assert finish_directories(made) == [Restored(b"/d", target + b"/d")]
    assert stat.S_IMODE(os.stat(target + b"/d").st_mode) == 0o777


def test_the_steps_can_be_driven_one_by_one(store, target):
    entry = store.put(file_entry(b"/a", b"x", mode=0o100604), b"x")
    (placement,), _ = plan([entry], target, ALICE, overwrite=False)
    made = make_directories([placement])
    outcome = finish_file(placement, fetch(store, placement, made))
    assert outcome == Restored(b"/a", target + b"/a", 1)
    assert stat.S_IMODE(os.stat(target + b"/a").st_mode) == 0o604
    assert finish_file(placement, Failure("object store unreachable", True)) == Refusal(
        b"/a", "object store unreachable", retryable=True
    )


def test_a_file_swapped_for_a_hard_link_is_not_chowned(target, public_dir):
    (placement,), _ = plan([file_entry(b"/a", b"secret")], target, ALICE, overwrite=False)
    victim = made_file(public_dir + b"/victim", b"secret", mode=0o600, uid=STRANGER_UID)
    os.link(victim, target + b"/a")  # swapped in between the download and finishing
    outcome = finish_file(placement, Stored("k", 6, "0", "0", "e"))
    assert isinstance(outcome, Refusal) and "replaced before it could be finished" in outcome.reason
    assert os.stat(victim).st_uid == STRANGER_UID


def test_a_file_that_cannot_be_finished_is_removed(store, target, monkeypatch):
    entry = store.put(file_entry(b"/a", b"x"), b"x")
    (placement,), _ = plan([entry], target, ALICE, overwrite=False)

    def refuse(*args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("processors.restore.restore.set_file_metadata", refuse)
    outcome = finish_file(placement, fetch(store, placement, make_directories([placement])))
    assert outcome == Refusal(b"/a", "could not finish the file: Operation not permitted")
    assert os.listdir(target) == []


def test_link_owner_is_the_link_not_its_target(store, public_dir, target):
    pointee = made_file(public_dir + b"/pointee", uid=0)
    (placement,), _ = plan([link_entry(b"/l", pointee)], target, ALICE, overwrite=False)
    assert restore_link(placement) == Restored(b"/l", target + b"/l")
    assert os.lstat(target + b"/l").st_uid == ALICE_UID
    assert os.stat(pointee).st_uid == 0


def test_set_file_metadata_is_exact_to_the_nanosecond(target):
    path = made_file(target + b"/f", b"abc", uid=0)
    set_file_metadata(path, 0o100751, 1_700_000_000_987_654_321, Owner(ALICE_UID, 99), 3)
    st = os.stat(path)
    assert (st.st_mtime_ns, stat.S_IMODE(st.st_mode)) == (1_700_000_000_987_654_321, 0o751)
    assert (st.st_uid, st.st_gid) == (ALICE_UID, 99)


def test_a_folder_swapped_for_a_link_after_the_last_check_cannot_redirect_the_write(
    store, public_dir, target, monkeypatch
):
    # planned and made while a/ is a real directory
    entry = store.put(file_entry(b"/a/f.nc"), b"payload")
    planned = plan([entry], target, ALICE, False)
    made = make_directories(planned.placements)
    # the user swaps a/ for a link to a folder outside the target, right after the
    # last check (simulated by letting that check pass)
    outside = made_dir(public_dir + b"/outside", 0o777)
    os.rename(target + b"/a", target + b"/a.old")
    os.symlink(outside, target + b"/a")
    monkeypatch.setattr("processors.restore.restore.unsafe_place", lambda _p: None)
    result = fetch(store, planned.placements[0], made)
    # the write fails instead of following the link, and nothing lands outside
    assert isinstance(result, Failure) and "no longer a directory" in result.reason
    assert os.listdir(outside) == [] and os.listdir(target + b"/a.old") == []
