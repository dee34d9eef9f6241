"""Carrying a plan out on a real tree, in the requester's own worker: contents, modes,
mtimes and links, exactly; overwrite rules; failures that leave nothing behind."""

from __future__ import annotations

import os
import stat

import pytest

from processors.transfer_get.restore import (
    EXISTS,
    Refusal,
    Restored,
    deepest_first,
    finish_directories,
    make_directories,
    plan,
    restore,
)
from stores.failures import CORRUPT, NOT_IN_STORE
from stores.outcomes import Failure, Stored
from stores.posix.placing import IMPLIED_DIRECTORY_MODE

from .conftest import (
    ALICE,
    ALICE_UID,
    MTIME_NS,
    STRANGER_UID,
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
)

pytestmark = needs_root


def test_a_tree_comes_back_below_the_target(store, target):
    files = [
        dir_entry(b"/data", mode=stat.S_IFDIR | 0o750, mtime_ns=MTIME_NS),
        dir_entry(b"/data/run", mode=stat.S_IFDIR | 0o700, mtime_ns=MTIME_NS + 1),
        dir_entry(b"/data/empty", mode=stat.S_IFDIR | 0o755, mtime_ns=MTIME_NS + 3),
        store.put(file_entry(b"/data/run/a.nc", b"alpha", mode=0o100600), b"alpha"),
        store.put(file_entry(b"/data/b", b"", mode=0o100444, mtime_ns=5), b""),
        link_entry(b"/data/run/l", b"a.nc", mtime_ns=MTIME_NS + 2),
    ]
    outcomes = restored(store, files, target)
    assert failures(outcomes) == {}
    assert {o.path: o.destination for o in outcomes.results if isinstance(o, Restored)} == {
        f["path"]: target + f["path"] for f in files
    }
    assert read(target + b"/data/run/a.nc") == b"alpha"
    assert read(target + b"/data/b") == b""
    assert os.listdir(target + b"/data/empty") == []
    for entry in files:
        st = os.lstat(target + entry["path"])
        assert st.st_mtime_ns == entry["mtime_ns"], entry["path"]
        assert (st.st_uid, st.st_gid) == (ALICE_UID, ALICE_UID), entry["path"]
        assert stat.S_IFMT(st.st_mode) == stat.S_IFMT(entry["mode"])
        if entry["path_type"] != "LINK":
            assert stat.S_IMODE(st.st_mode) == stat.S_IMODE(entry["mode"]), entry["path"]
    assert os.readlink(target + b"/data/run/l") == b"a.nc"
    assert sorted(os.listdir(target + b"/data/run")) == [b"a.nc", b"l"]  # no partial files


def test_restored_sizes_are_reported(store, target):
    entry = store.put(file_entry(b"/a", b"12345"), b"12345")
    assert restored(store, [entry], target).results == [Restored(b"/a", target + b"/a", 5)]


def test_implied_folders_are_made_open_for_good(store, public_dir):
    home = made_dir(public_dir + b"/home", 0o755, ALICE_UID)
    entry = store.put(file_entry(home + b"/new/deeper/a", b"x"), b"x")
    assert failures(restored(store, [entry], None)) == {}
    for folder in (home + b"/new", home + b"/new/deeper"):
        assert owner(folder) == (ALICE_UID, ALICE_UID)
        assert mode_of(folder) == IMPLIED_DIRECTORY_MODE
    assert read(home + b"/new/deeper/a") == b"x"


def test_a_missing_target_is_made_below_a_folder_the_requester_may_write(store, target):
    entry = store.put(file_entry(b"/a", b"x"), b"x")
    assert failures(restored(store, [entry], target + b"/new/out")) == {}
    assert read(target + b"/new/out/a") == b"x"
    assert owner(target + b"/new/out") == (ALICE_UID, ALICE_UID)


def test_the_target_itself_may_be_a_link(store, public_dir):
    real = made_dir(public_dir + b"/real", 0o755, ALICE_UID)
    os.symlink(real, public_dir + b"/out")
    files = [dir_entry(b"/a"), store.put(file_entry(b"/a/f", b"x"), b"x")]
    assert failures(restored(store, files, public_dir + b"/out")) == {}
    assert read(real + b"/a/f") == b"x"
    assert os.path.islink(public_dir + b"/out")


@pytest.mark.parametrize(
    "name", [b"new\nline", b"with space", b"latin1-\xe9\xff", b" lead", b"-dash", b"\x01ctl"]
)
def test_odd_names_come_back_byte_for_byte(store, target, name):
    files = [
        dir_entry(b"/" + name),
        store.put(file_entry(b"/" + name + b"/" + name, name), name),
        link_entry(b"/" + name + b"/link " + name, name),
    ]
    assert failures(restored(store, files, target)) == {}
    assert read(target + b"/" + name + b"/" + name) == name
    assert os.readlink(target + b"/" + name + b"/link " + name) == name
    assert sorted(os.listdir(target + b"/" + name)) == sorted([name, b"link " + name])


def test_file_modes_lose_set_id_bits_directory_modes_keep_setgid_and_sticky(store, target):
    files = [
        dir_entry(b"/shared", mode=stat.S_IFDIR | stat.S_ISGID | stat.S_ISVTX | 0o775),
        store.put(file_entry(b"/shared/tool", b"#!", mode=stat.S_IFREG | 0o6755), b"#!"),
        store.put(file_entry(b"/shared/sticky", b"", mode=stat.S_IFREG | 0o1644), b""),
    ]
    assert failures(restored(store, files, target)) == {}
    assert mode_of(target + b"/shared") == 0o3775
    assert mode_of(target + b"/shared/tool") == 0o755
    assert mode_of(target + b"/shared/sticky") == 0o644


def test_mtimes_come_back_to_the_nanosecond(store, target):
    times = [1_700_000_000_987_654_321, 1, 0, 2**62 + 7]
    files = [
        store.put(file_entry(b"/f%d" % i, b"x", mtime_ns=t), b"x") for i, t in enumerate(times)
    ]
    files += [link_entry(b"/l%d" % i, b"x", mtime_ns=t) for i, t in enumerate(times)]
    files += [dir_entry(b"/d%d" % i, mtime_ns=t) for i, t in enumerate(times)]
    assert failures(restored(store, files, target)) == {}
    for entry in files:
        assert os.lstat(target + entry["path"]).st_mtime_ns == entry["mtime_ns"], entry["path"]


def test_existing_directories_are_reused_untouched(store, target):
    existing = made_dir(target + b"/data", 0o711, ALICE_UID)
    os.utime(existing, ns=(1, 2))
    files = [dir_entry(b"/data", mode=0o40700), store.put(file_entry(b"/data/a", b"x"), b"x")]
    outcomes = restored(store, files, target)
    assert Restored(b"/data", existing) in outcomes.results
    assert outcomes.created == []  # found, not made: never finished
    assert mode_of(existing) == 0o711  # the user's choice stays
    assert os.stat(existing).st_mtime_ns != 2  # a file was added: not set back, it is not ours
    assert read(existing + b"/a") == b"x"


@pytest.mark.parametrize("overwrite", [False, True])
def test_directories_are_never_replaced_nor_replace(store, target, overwrite):
    made_dir(target + b"/was-dir", 0o755, ALICE_UID)
    made_file(target + b"/was-file", b"kept", uid=ALICE_UID)
    os.symlink(b"was-file", target + b"/was-link")
    files = [
        store.put(file_entry(b"/was-dir", b"x"), b"x"),
        dir_entry(b"/was-file"),
        dir_entry(b"/was-link"),
    ]
    reasons = failures(restored(store, files, target, overwrite=overwrite))
    assert reasons[b"/was-dir"] == "exists and is a directory"
    assert "is not a directory of the restore" in reasons[b"/was-file"]
    assert "is not a directory of the restore" in reasons[b"/was-link"]
    assert os.path.isdir(target + b"/was-dir") and os.listdir(target + b"/was-dir") == []
    assert read(target + b"/was-file") == b"kept"
    assert os.readlink(target + b"/was-link") == b"was-file"
    outcome = restored(store, [link_entry(b"/was-dir", b"x")], target, overwrite=overwrite)
    assert failures(outcome) == {b"/was-dir": "exists and is a directory"}
    assert sorted(os.listdir(target)) == [b"was-dir", b"was-file", b"was-link"]


def test_without_overwrite_existing_files_and_links_are_kept(store, target):
    made_file(target + b"/a", b"theirs", mode=0o666, uid=ALICE_UID)
    os.symlink(b"theirs", target + b"/l")
    files = [store.put(file_entry(b"/a", b"mine"), b"mine"), link_entry(b"/l", b"mine")]
    outcomes = restored(store, files, target)
    assert outcomes.results == [Refusal(b"/a", EXISTS), Refusal(b"/l", EXISTS)]
    assert read(target + b"/a") == b"theirs"
    assert os.readlink(target + b"/l") == b"theirs"
    assert store.downloads == []
    assert sorted(os.listdir(target)) == [b"a", b"l"]


def test_without_overwrite_a_file_that_appeared_while_downloading_is_kept(
    store, target, monkeypatch
):
    entry = store.put(file_entry(b"/a", b"mine"), b"mine")
    download = store.download_into

    def slow_download(key: str, fd: int, sha256: str, size: int, **kw) -> Stored | Failure:
        made_file(target + b"/a", b"theirs", uid=ALICE_UID)  # appears meanwhile
        return download(key, fd, sha256, size, **kw)

    monkeypatch.setattr(store, "download_into", slow_download)
    assert restored(store, [entry], target).results == [Refusal(b"/a", EXISTS)]
    assert read(target + b"/a") == b"theirs"
    assert partials(target) == []


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


def test_overwrite_replaces_a_hard_link_without_writing_into_its_file(store, public_dir, target):
    victim = made_file(public_dir + b"/victim", b"secret", mode=0o666, uid=STRANGER_UID)
    os.link(victim, target + b"/a")
    entry = store.put(file_entry(b"/a", b"mine!!"), b"mine!!")
    assert failures(restored(store, [entry], target, overwrite=True)) == {}
    assert read(target + b"/a") == b"mine!!"
    assert read(victim) == b"secret"
    assert (owner(victim), mode_of(victim)) == ((STRANGER_UID, STRANGER_UID), 0o666)


@pytest.mark.parametrize("link", [b"/no/such/place", b"../../../../etc", b"self", b"\xff\n"])
def test_links_come_back_as_links_never_followed(store, target, link):
    files = [link_entry(b"/l", link), link_entry(b"/self", b"self")]
    assert failures(restored(store, files, target)) == {}
    assert os.readlink(target + b"/l") == link
    assert os.readlink(target + b"/self") == b"self"  # a loop
    assert os.lstat(target + b"/l").st_mtime_ns == MTIME_NS


def test_a_link_is_owned_as_a_link_its_target_untouched(store, public_dir, target):
    pointee = made_file(public_dir + b"/pointee", uid=0, mode=0o600)
    assert failures(restored(store, [link_entry(b"/l", pointee)], target)) == {}
    assert owner(target + b"/l") == (ALICE_UID, ALICE_UID)
    assert (owner(pointee), mode_of(pointee), read(pointee)) == ((0, 0), 0o600, b"old")
    assert os.stat(pointee).st_mtime_ns != MTIME_NS


def test_a_corrupt_copy_fails_only_its_file_and_leaves_nothing(store, target):
    good = store.put(file_entry(b"/data/good", b"good"), b"good")
    bad = store.put(file_entry(b"/data/a", b"good"), b"evil")
    outcomes = restored(store, [dir_entry(b"/data"), good, bad], target)
    assert failures(outcomes) == {b"/data/a": CORRUPT}
    assert os.listdir(target + b"/data") == [b"good"]
    assert os.stat(target + b"/data").st_mtime_ns == MTIME_NS  # still finished


def test_a_missing_object_fails_only_its_file_and_leaves_nothing(store, target):
    missing = file_entry(b"/a", b"gone")  # never put in the store
    there = store.put(file_entry(b"/b", b"here"), b"here")
    assert failures(restored(store, [missing, there], target)) == {b"/a": NOT_IN_STORE}
    assert os.listdir(target) == [b"b"]


def test_a_retryable_store_failure_is_reported_retryable(store, target):
    entry = store.put(file_entry(b"/a", b"x"), b"x")
    store.failures[entry["object_key"] or ""] = Failure("object store unreachable", True)
    outcomes = restored(store, [entry], target)
    assert outcomes.results == [Refusal(b"/a", "object store unreachable", retryable=True)]
    assert os.listdir(target) == []


def test_a_failed_download_keeps_the_existing_file(store, target):
    made_file(target + b"/a", b"before", mode=0o666, uid=ALICE_UID)
    entry = store.put(file_entry(b"/a", b"good"), b"evil")
    assert failures(restored(store, [entry], target, overwrite=True)) == {b"/a": CORRUPT}
    assert read(target + b"/a") == b"before"
    assert os.listdir(target) == [b"a"]


def test_a_file_that_cannot_be_finished_is_removed(store, target, monkeypatch):
    entry = store.put(file_entry(b"/a", b"full"), b"full")

    def short_download(key: str, fd: int, sha256: str, size: int, **_kw) -> Stored:
        os.write(fd, b"fu")  # a store that claims more than it wrote
        return Stored(key, size, "0", sha256, "etag")

    monkeypatch.setattr(store, "download_into", short_download)
    outcomes = restored(store, [entry], target)
    assert outcomes.results == [
        Refusal(b"/a", f"{target.decode()}/a was changed before it could be finished")
    ]
    assert os.listdir(target) == []


def test_a_file_in_the_way_of_a_folder_fails_what_is_below_it(store, target):
    made_file(target + b"/data", b"kept", uid=ALICE_UID)
    files = [store.put(file_entry(b"/data/a", b"x"), b"x"), link_entry(b"/data/sub/l", b"a")]
    reasons = failures(restored(store, files, target))
    assert set(reasons) == {b"/data/a", b"/data/sub/l"}
    for reason in reasons.values():
        assert f"{target.decode()}/data is not a directory of the restore" in reason
    assert read(target + b"/data") == b"kept"
    assert store.downloads == []


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
    outcomes = restored(store, files, target)
    assert [p.path for p in outcomes.created] == [b"/a", b"/a/b", b"/a/b/c"]
    assert [os.stat(target + p).st_mtime_ns for p in (b"/a", b"/a/b", b"/a/b/c")] == [
        1_000,
        2_000,
        3_000,
    ]


def test_a_folder_its_owner_cannot_search_is_finished_after_its_contents(store, target):
    files = [
        dir_entry(b"/locked", mode=stat.S_IFDIR | 0o600),
        dir_entry(b"/locked/sub", mode=stat.S_IFDIR | 0o500),
        store.put(file_entry(b"/locked/sub/f", b"x"), b"x"),
        link_entry(b"/locked/l", b"sub"),
    ]
    assert failures(restored(store, files, target)) == {}
    assert (mode_of(target + b"/locked"), mode_of(target + b"/locked/sub")) == (0o600, 0o500)
    assert read(target + b"/locked/sub/f") == b"x"
    for entry in files:
        assert os.lstat(target + entry["path"]).st_mtime_ns == MTIME_NS


def test_cataloged_folders_stay_private_until_finished(files, target):
    placements, _ = plan([dir_entry(b"/d", mode=0o40777)], target, ALICE, overwrite=False)
    files.begin_restore(target)
    made = make_directories(placements, files)
    assert made.results == [] and made.created == placements
    assert mode_of(target + b"/d") == 0o700
    assert finish_directories(made.created, files) == [Restored(b"/d", target + b"/d")]
    assert mode_of(target + b"/d") == 0o777
    assert os.stat(target + b"/d").st_mtime_ns == MTIME_NS


def test_a_directory_that_cannot_be_finished_is_reported(files, target):
    placements, _ = plan([dir_entry(b"/d")], target, ALICE, overwrite=False)
    files.begin_restore(target)
    made = make_directories(placements, files)
    os.rmdir(target + b"/d")
    [outcome] = finish_directories(made.created, files)
    assert isinstance(outcome, Refusal) and outcome.path == b"/d"
    assert outcome.reason.startswith("could not finish the directory")


def test_nothing_to_restore_asks_nothing_of_the_worker(store):
    class NoWorker:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"the worker was asked to {name}")

    outcomes = restore(plan([], b"/out", ALICE, False), NoWorker(), store)  # type: ignore[arg-type]
    assert (outcomes.results, outcomes.created) == ([], [])
