"""Reading a file from POSIX disk as it was indexed, and noticing when it was not.

A file is copied only if it still is what the indexer recorded (size and mtime) and
nothing touched it while it was read: ``fstat`` before and after must agree on device,
inode, size, mtime and ctime. ctime also moves on ``chmod``/``chown``; catching those
too errs on the safe side, as a copy must be of one well-defined version of the file.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stores.checksums import Checksummer
from stores.closing import Closing

CHANGED = "file changed while it was being read"

# O_NOFOLLOW: a path that became a symlink is a different file. O_NONBLOCK: opening a
# path that became a FIFO must not hang (it has no effect on regular files).
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC

Opener = Callable[[Sequence[bytes]], "list[int | OSError]"]
"""Opens paths for reading, each to a descriptor or the error: for a user's files, their
worker's ``UserFiles.open_for_reading`` (the kernel checks as them)."""


def service_files(paths: Sequence[bytes]) -> list[int | OSError]:
    """Opens the service's own files (tests, benches, its own scratch data); never a
    user's path, which only their worker opens."""
    opened: list[int | OSError] = []
    for path in paths:
        try:
            opened.append(os.open(path, _OPEN_FLAGS))
        except OSError as error:
            opened.append(error)
    return opened


def open_one(opener: Opener, path: bytes, expected: Expected) -> SourceFile:
    """``path`` opened by ``opener`` and checked against ``expected``; raises ``OSError``
    or ``SourceChanged``."""
    (opened,) = opener([path])
    if isinstance(opened, OSError):
        if opened.errno == errno.ELOOP:  # the path is now a symlink
            raise SourceChanged(CHANGED) from opened
        raise opened
    return SourceFile(opened, expected)


class SourceChanged(Exception):
    """The file is not the one the indexer recorded, or changed while it was read."""


@dataclass(frozen=True)
class Expected:
    """What the indexer recorded of a file: the copy must be of exactly this version."""

    size: int
    mtime_ns: int


@dataclass(frozen=True)
class _Identity:
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, status: os.stat_result) -> _Identity:
        return cls(
            status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns
        )


class SourceFile(Closing):
    """An open regular file, checked against ``Expected`` when opened and after reading."""

    def __init__(self, fd: int, expected: Expected) -> None:
        """Take over ``fd``, opened for reading (as the user, by their worker)."""
        self._fd = fd
        try:
            status = os.fstat(self._fd)
            self._identity = _Identity.of(status)
            if not stat.S_ISREG(status.st_mode) or (
                (status.st_size, status.st_mtime_ns) != (expected.size, expected.mtime_ns)
            ):
                raise SourceChanged(CHANGED)
        except BaseException:
            os.close(self._fd)
            raise
        self.size = expected.size
        self.bytes_read = 0

    def read(self, amount: int) -> bytes:
        """Up to ``amount`` bytes, never past the expected size; fewer only at its end."""
        amount = min(amount, self.size - self.bytes_read)
        data = os.read(self._fd, amount) if amount > 0 else b""
        # A regular file returns short reads only at its end (or past 2 GiB on Linux).
        while 0 < len(data) < amount:
            more = os.read(self._fd, amount - len(data))
            if not more:
                break
            data += more
        self.bytes_read += len(data)
        return data

    def check_unchanged(self) -> None:
        """Raise ``SourceChanged`` unless all of the file was read and nothing changed."""
        if self.bytes_read != self.size or _Identity.of(os.fstat(self._fd)) != self._identity:
            raise SourceChanged(CHANGED)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class ChecksummingReader:
    """A forward-only stream of a ``SourceFile`` that feeds a ``Checksummer``.

    It claims not to be seekable, so s3transfer reads it exactly once, sequentially, one
    part at a time (a seekable stream may be re-read, e.g. to compute a request checksum
    and then to send, which would feed the checksums twice). At the end of the data it
    checks the file did not change, and raises ``SourceChanged`` if it did: the transfer
    then fails and its multipart upload is aborted, so no object is ever completed.
    """

    def __init__(self, source: SourceFile, checksums: Checksummer) -> None:
        self._source = source
        self._checksums = checksums

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, amount: int = -1) -> bytes:
        if amount is None or amount < 0:
            amount = self._source.size
        data = self._source.read(amount)
        if data:
            self._checksums.update(data)
        if self._source.bytes_read >= self._source.size or len(data) < amount:
            self._source.check_unchanged()
        return data
