"""Where a cataloged path is restored, and refusing every way of writing outside that place.

Paths are bytes and handled lexically: names may hold spaces, newlines or bytes that are
not UTF-8. A catalog path is absolute; under a target directory it is recreated below the
target (``/data/run/a.nc`` into ``/home/alice/out`` is ``/home/alice/out/data/run/a.nc``),
otherwise it goes back where it was.

Lexical safety is not enough, since the service is root and follows whatever links are on
disk: a link planted below the target (``target/data -> /etc``) would lead its writes
out. These checks are made when planning and again just before each write, and a file is
then written relative to its folder opened without following links (``open_folder``), so
a folder swapped for a link after the checks fails the write instead of redirecting it.
"""

from __future__ import annotations

import os
import stat

from processors.indexing.access import Requester
from processors.indexing.lookup import child_of, parent_of, printable

_OPEN_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC

# Linux gives up after 40 symlinks in one lookup (MAXSYMLINKS); so do we.
_MAX_SYMLINKS = 40


class UnsafePath(ValueError):
    """A path that could lead a restore outside its place; ``reason`` says why, for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normal_directory(path: bytes, what: str = "target directory") -> bytes:
    """``path`` without ``.``, empty components and trailing slashes, if it is safe.

    Raises ``UnsafePath`` for an empty or relative path, a NUL byte or a ``..`` component.
    """
    return b"/" + b"/".join(_components(path, what))


def destination(path: bytes, target: bytes | None) -> bytes:
    """Where the catalog ``path`` is restored: below ``target``, or in place when None."""
    below = _components(path, "path")
    if target is None:
        return b"/" + b"/".join(below)
    place = normal_directory(target)
    for name in below:
        place = child_of(place, name)
    return place


def check_no_symlink_escape(dest: bytes, target: bytes) -> None:
    """Refuse ``dest`` when an existing directory between ``target`` and it is a symlink.

    The target itself may be a link (it is the user's choice, and permissions are checked
    on where it leads); what lies below it must be real directories. ``dest`` itself is not
    looked at: a link there is replaced, never followed.
    """
    top = normal_directory(target)
    if dest != top and not strictly_below(dest, top):
        raise UnsafePath(f"{printable(dest)} is not inside {printable(top)}")
    current = top
    for name in dest[len(top) :].strip(b"/").split(b"/")[:-1]:
        current = child_of(current, name)
        try:
            st = os.lstat(current)
        except (FileNotFoundError, NotADirectoryError):
            return  # the rest is created by the restore, as real directories
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePath(
                f"{printable(current)} is a symbolic link: restoring through it could write"
                f" outside {printable(top)}"
            )
        if not stat.S_ISDIR(st.st_mode):
            return  # not a way out; the permission check reports it


def check_trusted_links(dest: bytes, who: Requester) -> None:
    """Refuse ``dest`` when reaching its folder follows a symlink owned by someone else.

    For restores to the original place, where a path may well pass links (``/home`` to a
    cluster file system) and restored files get back their original owners. Links owned by
    root or by ``who`` are trusted; one planted by another user could send a file they
    owned into ``who``'s directories, where that user could then change it (the rule of
    the kernel's ``fs.protected_symlinks``, applied to every directory).
    """
    for link, st in _links_on_the_way(parent_of(dest)):
        if st.st_uid not in (0, who.uid):
            raise UnsafePath(
                f"{printable(link)} is a symbolic link owned by another user (uid {st.st_uid})"
            )


def open_folder(dest: bytes, target: bytes | None) -> int:
    """An open descriptor of the folder ``dest`` goes in, for writing relative to it.

    Below ``target`` each folder is opened from the one above with ``O_NOFOLLOW``, so a
    folder swapped for a symlink after the checks fails (``OSError`` ELOOP or ENOTDIR)
    instead of leading outside; the target itself may be a link (the user's choice). For
    the original place (``target`` None) the folder is opened by its path, whose links
    ``check_trusted_links`` has judged. Raises ``UnsafePath`` if ``dest`` is not inside
    ``target``.
    """
    folder = parent_of(dest)
    if target is None:
        return os.open(folder, _OPEN_FOLDER)
    top = normal_directory(target)
    if folder != top and not strictly_below(folder, top):
        raise UnsafePath(f"{printable(dest)} is not inside {printable(top)}")
    fd = os.open(top, _OPEN_FOLDER)
    try:
        for name in folder[len(top) :].split(b"/"):
            if name:
                below = os.open(name, _OPEN_FOLDER | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = below
    except BaseException:
        os.close(fd)
        raise
    return fd


def strictly_below(path: bytes, top: bytes) -> bool:
    """Whether normalised ``path`` lies inside the normalised directory ``top``."""
    return path != top and path.startswith(top if top == b"/" else top + b"/")


def _components(path: bytes, what: str) -> list[bytes]:
    if not path:
        raise UnsafePath(f"empty {what}")
    if b"\0" in path:
        raise UnsafePath(f"{what} {printable(path)!r} contains a NUL byte")
    if not path.startswith(b"/"):
        raise UnsafePath(f"{what} {printable(path)!r} is not absolute")
    names = [name for name in path.split(b"/") if name not in (b"", b".")]
    if b".." in names:
        raise UnsafePath(f"{what} {printable(path)!r} contains a '..' component")
    return names


def _links_on_the_way(path: bytes) -> list[tuple[bytes, os.stat_result]]:
    """The symlinks a lookup of absolute ``path`` follows, up to its first missing part."""
    found: list[tuple[bytes, os.stat_result]] = []
    pending = list(reversed(path.split(b"/")))
    current = b"/"
    while pending:
        name = pending.pop()
        if name in (b"", b"."):
            continue
        if name == b"..":
            current = parent_of(current)  # current never holds a link: lexical is real
            continue
        candidate = child_of(current, name)
        try:
            st = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            break
        if not stat.S_ISLNK(st.st_mode):
            current = candidate
            continue
        found.append((candidate, st))
        if len(found) > _MAX_SYMLINKS:
            raise UnsafePath(f"too many levels of symbolic links at {printable(candidate)}")
        link = os.readlink(candidate)
        if link.startswith(b"/"):
            current = b"/"
        pending.extend(reversed(link.split(b"/")))
    return found
