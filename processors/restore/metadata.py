"""Who owns a restored entry, and putting back its mode, mtime and owner.

Ownership:
- Restored to its original place, an entry gets its original uid and gid back: it is put
  back as it was, so a shared project directory finds its files owned as before.
- Restored under a target directory, everything belongs to the requester (their uid and
  primary group), as a copy they made themselves would: nobody else gets files in a tree
  the requester chose, and the requester can always change or delete what they restored.
- Folders a restore has to make without a catalog entry belong to the requester either way.

Mode: only permission bits come back, and never set-user-ID or set-group-ID on a file: a
restore must not mint set-id programs for an owner who did not ask for them (the kernel
drops those bits too when anyone but root changes a file). Directories keep set-group-ID
(group inheritance of project directories) and the sticky bit.

Everything is applied through a descriptor opened without following links, so a link
swapped in at the last moment is never chowned or chmodded through.
"""

from __future__ import annotations

import os
import pwd
import stat
from typing import NamedTuple

from processors.indexing.access import Requester
from processors.indexing.lookup import printable

FILE_MODE_BITS = 0o777
DIRECTORY_MODE_BITS = stat.S_ISGID | stat.S_ISVTX | 0o777

_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_OPEN_DIRECTORY = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC


class Owner(NamedTuple):
    """A uid and gid to give an entry."""

    uid: int
    gid: int


class NotOurs(Exception):
    """The entry is not the one this restore just wrote; it is left alone."""


def requester_owner(who: Requester, group: int | None = None) -> Owner:
    """The requester's uid and ``group``, by default their primary group from passwd.

    A requester absent from passwd must belong to a single group (or ``group`` be given):
    picking one of several would be a guess.
    """
    if group is not None:
        return Owner(who.uid, group)
    try:
        primary: int | None = pwd.getpwuid(who.uid).pw_gid
    except KeyError:
        primary = None
    if primary is not None and primary in who.gids:
        return Owner(who.uid, primary)
    if len(who.gids) == 1:
        return Owner(who.uid, next(iter(who.gids)))
    raise ValueError(f"cannot tell the primary group of user {who.name}")


def set_file_metadata(path: bytes, mode: int, mtime_ns: int, owner: Owner, size: int) -> None:
    """Give the file just written at ``path`` its owner, permission bits and mtime.

    Raises ``NotOurs`` unless ``path`` is still a regular file of ``size`` bytes with one
    link, owned by the service: a user who can write the folder could have swapped in a
    hard link to someone else's file. Other failures raise ``OSError``.
    """
    fd = os.open(path, _OPEN_FILE)
    try:
        st = os.fstat(fd)
        ours = st.st_uid == os.geteuid() and st.st_nlink == 1 and st.st_size == size
        if not (stat.S_ISREG(st.st_mode) and ours):
            raise NotOurs(f"{printable(path)} was replaced before it could be finished")
        _set(fd, st, mode & FILE_MODE_BITS, mtime_ns, owner)
    finally:
        os.close(fd)


def set_directory_metadata(path: bytes, mode: int, mtime_ns: int, owner: Owner) -> None:
    """Give the directory at ``path`` (not a link to one) its owner, mode bits and mtime."""
    fd = os.open(path, _OPEN_DIRECTORY)
    try:
        _set(fd, os.fstat(fd), mode & DIRECTORY_MODE_BITS, mtime_ns, owner)
    finally:
        os.close(fd)


def reset_directory_times(path: bytes, mode: int, mtime_ns: int) -> None:
    """Give the directory at ``path`` (not a link to one) its mode bits and mtime again,
    leaving its owner as it is. Raises ``OSError`` (``ENOENT``, ``ENOTDIR``, ``ELOOP``)
    when ``path`` is no longer a directory."""
    fd = os.open(path, _OPEN_DIRECTORY)
    try:
        os.fchmod(fd, mode & DIRECTORY_MODE_BITS)
        os.utime(fd, ns=(os.fstat(fd).st_atime_ns, mtime_ns))
    finally:
        os.close(fd)


def new_directory(path: bytes, mode: int, owner: Owner) -> None:
    """Make the directory ``path``, owned by ``owner``, with exactly ``mode`` (no umask)."""
    os.mkdir(path, 0o700)
    fd = os.open(path, _OPEN_DIRECTORY)
    try:
        os.fchown(fd, owner.uid, owner.gid)
        os.fchmod(fd, mode & DIRECTORY_MODE_BITS)
    finally:
        os.close(fd)


def set_link_metadata(path: bytes, mtime_ns: int, owner: Owner) -> None:
    """Give the symlink ``path`` itself (never its target) its owner and mtime.

    A link's mode is not settable on Linux and means nothing there.
    """
    os.lchown(path, owner.uid, owner.gid)
    atime_ns = os.lstat(path).st_atime_ns
    os.utime(path, ns=(atime_ns, mtime_ns), follow_symlinks=False)


def _set(fd: int, st: os.stat_result, mode: int, mtime_ns: int, owner: Owner) -> None:
    # chown before chmod: chown may clear set-id bits, chmod then sets exactly ``mode``;
    # the mtime last, and the atime as it is (the catalog has none).
    os.fchown(fd, owner.uid, owner.gid)
    os.fchmod(fd, mode)
    os.utime(fd, ns=(st.st_atime_ns, mtime_ns))
