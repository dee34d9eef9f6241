"""Making many written files durable at once, before any of them is moved into place.

Where it can be trusted, one ``syncfs`` per file system replaces an ``fsync`` per file
(which cost half of a small-file GET's time). It cannot be trusted everywhere (D197):
before Linux 5.8 ``syncfs`` does not report write-back errors, so a file whose data was
lost would be reported restored; on a network or cluster file system (NFS, Lustre, GPFS,
CephFS, FUSE, ...) it writes out every user's dirty pages of the mount, or is not passed
on to the servers at all. There each file is ``fsync``-ed instead. So is a large file
anywhere (D222): its own write-back is most of a sync's cost, and a ``syncfs`` would
also wait for every other writer's dirty pages on that file system.
"""

from __future__ import annotations

import ctypes
import os
import re
import threading
from typing import Literal

Durability = Literal["auto", "syncfs", "fsync"]
"""How restored files are made durable: ``auto`` chooses per file system."""

SYNCFS_REPORTS_ERRORS_SINCE = (5, 8)
FSYNC_FROM = 64 * 1024 * 1024  # with ``auto``, a file this large is synced alone

SHARED_FILE_SYSTEMS: dict[int, str] = {
    # f_type of statfs(2) (linux/magic.h and the file systems' own headers).
    0x6969: "nfs",
    0xFF534D42: "cifs",
    0xFE534D42: "smb2",
    0x517B: "smb",
    0x0BD00BD0: "lustre",
    0x47504653: "gpfs",
    0x00C36400: "ceph",
    0x65735546: "fuse",
    0x5346414F: "afs",
    0x01021997: "9p",
    0x7461636F: "ocfs2",
    0x01161970: "gfs2",
    0x19830326: "beegfs",
    0x20030528: "orangefs",
    0xAAD7AAEA: "panfs",
}

_libc = ctypes.CDLL(None, use_errno=True)
_STATFS_SIZE = 256  # larger than struct statfs on every Linux architecture


def sync_file_system(fd: int) -> None:
    """Write out every dirty page of the file system that holds ``fd``; raises the
    ``OSError`` of a failed write-back (the files on it may not be durable)."""
    if _libc.syncfs(fd) != 0:
        raise _last_error()


def file_system_type(fd: int) -> int:
    """The ``f_type`` magic number of the file system that holds ``fd``."""
    buffer = ctypes.create_string_buffer(_STATFS_SIZE)
    if _libc.fstatfs(fd, buffer) != 0:
        raise _last_error()
    # f_type is the first member of struct statfs, a long.
    return ctypes.c_ulong.from_buffer(buffer).value & 0xFFFFFFFF


def kernel_release() -> str:
    return os.uname().release


def kernel_version(release: str) -> tuple[int, int]:
    """(major, minor) of a release string such as ``5.15.0-91-generic``; (0, 0) if it
    cannot be read."""
    found = re.match(r"(\d+)\.(\d+)", release)
    return (int(found[1]), int(found[2])) if found else (0, 0)


def syncfs_trusted(fd: int) -> bool:
    """Whether one ``syncfs`` makes the files written on ``fd``'s file system durable,
    and says so when it does not."""
    if kernel_version(kernel_release()) < SYNCFS_REPORTS_ERRORS_SINCE:
        return False
    return file_system_type(fd) not in SHARED_FILE_SYSTEMS


class BatchSync:
    """Makes a batch of written files durable before any is moved into place. With
    ``syncfs``, it keeps one open descriptor per file system and syncs each once; with
    ``fsync``, each file is synced as it is handed over. Thread-safe."""

    def __init__(self, durability: Durability = "auto") -> None:
        self.durability = durability
        self._kept: dict[int, int] = {}
        self._per_file: dict[int, bool] = {}  # by device: fsync each file?
        self._errors: list[OSError] = []
        self._lock = threading.Lock()

    def keep(self, fd: int) -> bool:
        """Hand over the written file ``fd``; True: it is kept, and the caller must not
        close it."""
        written = os.fstat(fd)
        device = written.st_dev
        with self._lock:
            per_file = self._per_file.get(device)
            if per_file is None:
                per_file = self._per_file[device] = not self._syncfs_for(fd)
            if self.durability == "auto" and written.st_size >= FSYNC_FROM:
                per_file = True
            if not per_file and device not in self._kept:
                self._kept[device] = fd
                return True
        if per_file:
            try:
                os.fsync(fd)
            except OSError as error:
                with self._lock:
                    self._errors.append(error)
        return False

    def _syncfs_for(self, fd: int) -> bool:
        if self.durability == "auto":
            return syncfs_trusted(fd)
        return self.durability == "syncfs"

    def sync(self) -> None:
        """Sync each kept file system once, then close the kept descriptors; raises the
        first ``OSError`` of any sync of the batch (none of its files is durable for
        sure)."""
        try:
            for fd in self._kept.values():
                sync_file_system(fd)
        finally:
            self.close()
        if self._errors:
            raise self._errors[0]

    def close(self) -> None:
        """Close the kept descriptors, unsynced."""
        for fd in self._kept.values():
            os.close(fd)
        self._kept.clear()


def _last_error() -> OSError:
    number = ctypes.get_errno()
    return OSError(number, os.strerror(number))
