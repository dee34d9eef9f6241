"""Taking a file in from below a folder of the service's own that others may write (the
Pacifica ingest folder), without following a link or leaving the folder.

Checking a path and then opening or removing it by name walks it twice: whoever can
write below the folder may swap a folder for a link between the two, and the open or
the removal then happens elsewhere. Here the path is walked once, each component opened
from the descriptor of the one above with ``O_NOFOLLOW`` (a link anywhere is refused,
``..`` never taken), and the file is removed through its folder's descriptor, only while
its name still names the file that was opened.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass

from stores.closing import Closing

_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_BELOW = _FOLDER | os.O_NOFOLLOW
# Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Refused(Exception):
    """The path is not a regular file below the folder reached without a link."""


@dataclass
class TakenFile(Closing):
    """A regular file opened below the folder: ``fd`` to read it, ``name`` in the folder
    whose descriptor is ``folder``."""

    folder: int
    name: str
    fd: int

    def remove(self) -> bool:
        """Remove the file's name, if it still names the file opened; whether it did.
        Through the folder's descriptor: a folder swapped meanwhile changes nothing."""
        try:
            now = os.stat(self.name, dir_fd=self.folder, follow_symlinks=False)
        except FileNotFoundError:
            return False
        opened = os.fstat(self.fd)
        if (now.st_dev, now.st_ino) != (opened.st_dev, opened.st_ino):
            return False
        os.unlink(self.name, dir_fd=self.folder)
        return True

    def close(self) -> None:
        os.close(self.fd)
        os.close(self.folder)


def components(folder: str, given: str) -> list[str]:
    """The names leading from ``folder`` to ``given`` (relative to it, or absolute and
    below it as configured or as resolved); raises ``Refused`` for a path that leaves it
    or names the folder itself."""
    parts = [p for p in given.split("/") if p not in ("", ".")]
    if given.startswith("/"):
        for base in (os.path.normpath(folder), os.path.realpath(folder)):
            prefix = [p for p in base.split("/") if p]
            if parts[: len(prefix)] == prefix:
                parts = parts[len(prefix) :]
                break
        else:
            raise Refused("it is not below the folder")
    if not parts:
        raise Refused("it names no file below the folder")
    if ".." in parts:
        raise Refused("a path with '..' is not followed")
    return parts


def take_beneath(folder: str, given: str) -> TakenFile:
    """Open the regular file ``given`` names below ``folder`` for reading, walking from
    the folder one component at a time without following links. Raises ``Refused``, or
    the ``OSError`` of a component that cannot be opened."""
    parts = components(folder, given)
    current = os.open(folder, _FOLDER)
    try:
        for part in parts[:-1]:
            try:
                below = os.open(part, _BELOW, dir_fd=current)
            except OSError as error:
                raise _refused_link(error, part) from None
            os.close(current)
            current = below
        try:
            fd = os.open(parts[-1], _FILE, dir_fd=current)
        except OSError as error:
            raise _refused_link(error, parts[-1]) from None
    except BaseException:
        os.close(current)
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        os.close(current)
        raise Refused("it is not a regular file")
    os.set_blocking(fd, True)
    return TakenFile(current, parts[-1], fd)


def _refused_link(error: OSError, name: str) -> Exception:
    """A link where a folder or the file was expected is refused; other errors stand."""
    if error.errno in (errno.ELOOP, errno.ENOTDIR):
        return Refused(f"{name!r} is a link or not a folder; links are not followed")
    return error
