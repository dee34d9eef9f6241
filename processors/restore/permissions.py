"""Whether the requesting user may put a restored file where it is to go.

The service is root and could write anywhere, so every check is made for the requester,
by mode bits, the way ``processors.indexing.access`` checks reading: what matters is
whether they could have created or replaced the file themselves.
"""

from __future__ import annotations

import os
import stat

from processors.indexing.access import Requester
from processors.indexing.lookup import Denied, parent_of, printable, resolve

_WRITE_EXECUTE = 0o3
_WRITE = 0o2


def can_create(parent_dir_stat: os.stat_result, who: Requester) -> bool:
    """Whether ``who`` may add, remove or rename entries in the directory (w and x)."""
    granted = _granted(parent_dir_stat, who)
    return stat.S_ISDIR(parent_dir_stat.st_mode) and granted & _WRITE_EXECUTE == _WRITE_EXECUTE


def can_write(st: os.stat_result, who: Requester) -> bool:
    """Whether ``who`` may write to the file ``st`` describes."""
    return bool(_granted(st, who) & _WRITE)


def may_replace(entry: os.stat_result, parent_dir_stat: os.stat_result, who: Requester) -> bool:
    """Whether the sticky bit of the parent lets ``who`` remove ``entry`` (as in /tmp).

    In a sticky directory only the entry's owner or the directory's owner may remove or
    rename over an entry, whatever the directory's other bits say.
    """
    if not parent_dir_stat.st_mode & stat.S_ISVTX:
        return True
    return who.uid in (entry.st_uid, parent_dir_stat.st_uid)


def writable_destination(dest: bytes, who: Requester, target: bytes | None = None) -> str | None:
    """Why ``who`` may not restore to ``dest``; None when they may.

    See ``Writability.denial``; ``target`` only words the messages.
    """
    return Writability(who, target).denial(dest)


class Writability:
    """Answers ``writable_destination`` for many paths, checking each folder only once."""

    def __init__(self, who: Requester, target: bytes | None = None) -> None:
        self._who = who
        self._target = target
        self._folders: dict[bytes, tuple[str | None, os.stat_result | None]] = {}

    def denial(self, dest: bytes) -> str | None:
        """Why ``who`` may not restore to absolute, normalised ``dest``; None when they may.

        The nearest existing ancestor of ``dest`` must be reachable by ``who`` and let them
        create entries (the missing folders below it are made for them). An existing
        directory is reused as it is. An existing file or link is replaced, which needs the
        right to replace it in its folder (sticky bit included) and, for a file, to write it.
        """
        try:
            existing: os.stat_result | None = os.lstat(dest)
        except (FileNotFoundError, NotADirectoryError):
            existing = None
        except OSError as exc:
            return f"{printable(dest)} could not be looked up: {exc.strerror or exc}"
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            return self._reach(dest)[0]
        reason, folder = self._folder(parent_of(dest))
        if reason is not None or existing is None or folder is None:
            return reason
        if not may_replace(existing, folder, self._who):
            return (
                f"{printable(dest)} belongs to another user in a directory with the sticky bit:"
                f" user {self._who.name} may not replace it"
            )
        if stat.S_ISREG(existing.st_mode) and not can_write(existing, self._who):
            return f"{printable(dest)} is not writable by user {self._who.name}"
        return None

    def _folder(self, directory: bytes) -> tuple[str | None, os.stat_result | None]:
        """Whether entries can be made in ``directory``, or in its nearest existing ancestor."""
        if directory not in self._folders:
            self._folders[directory] = self._check_folder(directory)
        return self._folders[directory]

    def _check_folder(self, directory: bytes) -> tuple[str | None, os.stat_result | None]:
        nearest = directory
        while nearest != b"/":
            try:
                os.lstat(nearest)
                break
            except (FileNotFoundError, NotADirectoryError):
                nearest = parent_of(nearest)
            except OSError as exc:
                return f"{printable(nearest)} could not be looked up: {exc.strerror or exc}", None
        if nearest != directory:
            return self._folder(nearest)  # shared by every missing folder below it
        reason, st = self._reach(nearest)
        if reason is not None or st is None:
            return reason, None
        if not can_create(st, self._who):
            return f"{self._name(nearest)} is not writable by user {self._who.name}", None
        return None, st

    def _reach(self, directory: bytes) -> tuple[str | None, os.stat_result | None]:
        """Whether ``who`` can look up existing ``directory``, and what it really is."""
        try:
            real, st = resolve(directory, self._who)
        except Denied as denied:
            return denied.reason, None
        except FileNotFoundError:
            return f"{printable(directory)} disappeared while being checked", None
        except OSError as exc:
            return f"{printable(directory)} could not be looked up: {exc.strerror or exc}", None
        if not stat.S_ISDIR(st.st_mode):
            return f"{printable(real)} is not a directory", None
        return None, st

    def _name(self, directory: bytes) -> str:
        kind = "target directory" if directory == self._target else "directory"
        return f"{kind} {printable(directory)}"


def _granted(st: os.stat_result, who: Requester) -> int:
    """The rwx bits of the one class the kernel picks: owner, else group, else other."""
    if st.st_uid == who.uid:
        return (st.st_mode >> 6) & 0o7
    if st.st_gid in who.gids:
        return (st.st_mode >> 3) & 0o7
    return st.st_mode & 0o7
