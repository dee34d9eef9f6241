"""Where one syncfs cannot be trusted (a kernel before 5.8, a network or cluster file
system), a GET syncs each file instead; either way, no file is moved into place before
its bytes are synced (D197)."""

from __future__ import annotations

import errno
import os

import pytest

from processors.transfer_get.restoring import restore_batch
from stores import durability
from stores.durability import BatchSync, kernel_version, syncfs_trusted
from stores.posix.session import UserFiles

from .conftest import ALICE, FakeStore, file_entry, needs_root, session

NFS = 0x6969
LUSTRE = 0x0BD00BD0


@pytest.fixture
def written(tmp_path):
    """Three written, open files on the test's (local) file system."""
    fds = []
    for i in range(3):
        fd = os.open(tmp_path / f"f{i}", os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"data")
        fds.append(fd)
    yield fds
    for fd in fds:
        os.close(fd)


@pytest.fixture
def calls(monkeypatch):
    """Every fsync and syncfs, in order, still done for real."""
    seen: list[tuple[str, int]] = []
    real_fsync, real_syncfs = os.fsync, durability.sync_file_system
    monkeypatch.setattr(os, "fsync", lambda fd: (seen.append(("fsync", fd)), real_fsync(fd))[1])
    monkeypatch.setattr(
        durability,
        "sync_file_system",
        lambda fd: (seen.append(("syncfs", fd)), real_syncfs(fd))[1],
    )
    return seen


def local(fd: int) -> None:
    if durability.file_system_type(fd) in durability.SHARED_FILE_SYSTEMS:
        pytest.skip("the test's temporary folder is on a network file system")


def hand_over(batch: BatchSync, fds: list[int]) -> tuple[list[bool], list[int]]:
    """Hand copies of ``fds`` over as the restore does (closing those not kept); whether
    each was kept, and the copies."""
    copies = [os.dup(fd) for fd in fds]
    kept = [batch.keep(fd) for fd in copies]
    for fd, is_kept in zip(copies, kept, strict=True):
        if not is_kept:
            os.close(fd)
    return kept, copies


@pytest.mark.parametrize(
    ("release", "version"),
    [("5.8.0", (5, 8)), ("5.15.0-91-generic", (5, 15)), ("4.18.0-513.el8.x86_64", (4, 18))],
)
def test_kernel_versions_are_read_from_the_release(release, version):
    assert kernel_version(release) == version
    assert kernel_version("unknown") == (0, 0)


def test_a_kernel_before_5_8_is_not_trusted_with_syncfs(written, monkeypatch):
    local(written[0])
    monkeypatch.setattr(durability, "kernel_release", lambda: "5.4.0-150-generic")
    assert not syncfs_trusted(written[0])
    monkeypatch.setattr(durability, "kernel_release", lambda: "5.8.0")
    assert syncfs_trusted(written[0])


@pytest.mark.parametrize("magic", [NFS, LUSTRE])
def test_a_network_file_system_is_not_trusted_with_syncfs(written, monkeypatch, magic):
    monkeypatch.setattr(durability, "kernel_release", lambda: "6.8.0")
    monkeypatch.setattr(durability, "file_system_type", lambda _fd: magic)
    assert not syncfs_trusted(written[0])


KNOWN = {"ext4": 0xEF53, "xfs": 0x58465342, "tmpfs": 0x01021994, "overlay": 0x794C7630}


def test_the_file_system_type_is_the_one_mounted_there(written, tmp_path):
    """statfs's magic number agrees with the type /proc/self/mountinfo gives the mount."""
    here, mounted = "", ""
    with open("/proc/self/mountinfo") as mounts:
        for line in mounts:
            fields, kind = line.split(" - ")
            point = fields.split()[4]
            inside = str(tmp_path) == point or str(tmp_path).startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(here):
                here, mounted = point, kind.split()[0]
    if mounted not in KNOWN:
        pytest.skip(f"no magic number known here for {mounted}")
    assert durability.file_system_type(written[0]) == KNOWN[mounted]


def test_auto_on_an_old_kernel_syncs_each_file(written, calls, monkeypatch):
    local(written[0])
    monkeypatch.setattr(durability, "kernel_release", lambda: "4.18.0")
    batch = BatchSync("auto")
    kept, copies = hand_over(batch, written)
    assert kept == [False, False, False]  # synced at once: the caller closes them
    batch.sync()
    assert calls == [("fsync", fd) for fd in copies]


def test_auto_on_a_network_file_system_syncs_each_file(written, calls, monkeypatch):
    monkeypatch.setattr(durability, "kernel_release", lambda: "6.8.0")
    monkeypatch.setattr(durability, "file_system_type", lambda _fd: NFS)
    batch = BatchSync("auto")
    kept, copies = hand_over(batch, written)
    assert kept == [False, False, False]
    batch.sync()
    assert calls == [("fsync", fd) for fd in copies]


def test_auto_on_a_recent_kernel_and_a_local_file_system_syncs_it_once(written, calls):
    local(written[0])
    if kernel_version(os.uname().release) < (5, 8):
        pytest.skip("this kernel is older than 5.8")
    batch = BatchSync("auto")
    kept, copies = hand_over(batch, written)
    assert kept == [True, False, False]
    batch.sync()  # closes the kept one
    assert calls == [("syncfs", copies[0])]


def test_the_setting_forces_either_way(written, calls, monkeypatch):
    monkeypatch.setattr(durability, "kernel_release", lambda: "4.18.0")
    forced = BatchSync("syncfs")
    kept, copies = hand_over(forced, written)
    assert kept == [True, False, False]
    forced.sync()
    assert calls == [("syncfs", copies[0])]
    calls.clear()
    monkeypatch.setattr(durability, "kernel_release", lambda: "6.8.0")
    per_file = BatchSync("fsync")
    kept, copies = hand_over(per_file, written)
    assert kept == [False, False, False]
    per_file.sync()
    assert calls == [("fsync", fd) for fd in copies]


def test_a_failed_fsync_fails_the_batch(written, monkeypatch):
    def broken(_fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", broken)
    batch = BatchSync("fsync")
    hand_over(batch, written)
    with pytest.raises(OSError, match="Input/output"):
        batch.sync()


# -- a whole GET ------------------------------------------------------------------------


def stored(store: FakeStore, count: int) -> list:
    chosen = []
    for i in range(count):
        data = b"data %d\n" % i
        entry = store.put(file_entry(b"/run/f%02d" % i, data), data)
        chosen.append({**entry, "file_id": i, "holding_id": 1})
    return chosen


@pytest.fixture
def commits(monkeypatch, calls):
    """Moves into place, in order with the syncs."""
    real = UserFiles.commit_files

    def commit_files(self, rows, keep=()):
        calls.append(("commit", len(rows)))
        return real(self, rows, keep)

    monkeypatch.setattr(UserFiles, "commit_files", commit_files)
    return calls


@needs_root
def test_a_get_on_an_old_kernel_syncs_every_file_before_moving_any(
    target, store, commits, monkeypatch
):
    monkeypatch.setattr(durability, "kernel_release", lambda: "5.4.0")
    with session(ALICE) as files:
        outcome = restore_batch(store, files, stored(store, 12), target, overwrite=False)
    assert len(outcome.restored) == 12
    kinds = [kind for kind, _ in commits]
    assert kinds == ["fsync"] * 12 + ["commit"]


@needs_root
def test_a_get_on_a_local_file_system_syncs_it_once_before_moving_any(
    target, store, commits, monkeypatch
):
    monkeypatch.setattr(durability, "kernel_release", lambda: "6.8.0")
    monkeypatch.setattr(durability, "file_system_type", lambda _fd: 0xEF53)  # ext4
    with session(ALICE) as files:
        outcome = restore_batch(store, files, stored(store, 12), target, overwrite=False)
    assert len(outcome.restored) == 12
    assert [kind for kind, _ in commits] == ["syncfs", "commit"]


@needs_root
def test_a_get_whose_fsync_fails_moves_nothing_into_place(target, store, monkeypatch):
    def broken(_fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(durability, "file_system_type", lambda _fd: NFS)
    monkeypatch.setattr(os, "fsync", broken)
    with session(ALICE) as files:
        outcome = restore_batch(store, files, stored(store, 5), target, overwrite=False)
    assert outcome.restored == []
    assert len(outcome.failed) == 5
    names = os.listdir(target + b"/run") if os.path.isdir(target + b"/run") else []
    assert [n for n in names if not n.endswith(b".nearline-partial")] == []


def test_auto_syncs_a_large_file_alone(tmp_path, written, calls, monkeypatch):
    """A large file is fsync-ed as it is handed over (D222): a syncfs would also wait for
    every other writer's dirty pages. The small ones still share one syncfs."""
    local(written[0])
    monkeypatch.setattr(durability, "kernel_release", lambda: "6.8.0")
    large = os.open(tmp_path / "large", os.O_WRONLY | os.O_CREAT, 0o600)
    os.ftruncate(large, durability.FSYNC_FROM)
    try:
        batch = BatchSync("auto")
        kept, copies = hand_over(batch, [large, *written])
        assert kept == [False, True, False, False]
        batch.sync()
        assert calls == [("fsync", copies[0]), ("syncfs", copies[1])]
    finally:
        os.close(large)
