"""Walk the paths named in a PUT and describe what the requester may store.

Paths are bytes throughout: names on disk may hold spaces, newlines or bytes that are
not UTF-8, and the catalogue must get them back exactly. Symlinks are recorded, never
followed, so link loops cannot trap the walk; deep trees are walked with an explicit
stack, so there is no recursion limit.

Permission checks are made as the requester, but the walk itself reads the tree as the
service, by path: whoever later opens a file for transfer must check it again on the
opened descriptor, since a user can swap entries between the two moments.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from processors.indexing.access import Requester, can_list, can_read
from processors.indexing.lookup import (
    Ancestors,
    Denied,
    child_of,
    printable,
    resolve,
)

FILE = "FILE"
DIRECTORY = "DIRECTORY"
LINK = "LINK"

_UNSTORABLE = "only files, directories and links can be stored"


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One storable entry as found on disk.

    ``size`` counts the bytes of content to store: a file's length, 0 for directories
    and links (a link's target is ``link_path``). ``mode`` is the full ``st_mode``.
    """

    path: bytes
    path_type: str
    link_path: bytes | None
    size: int
    mode: int
    uid: int
    gid: int
    mtime_ns: int


@dataclass(frozen=True)
class Rejection:
    """A path that will not be stored, and why, in words for the user."""

    path: bytes
    reason: str


def walk(paths: Iterable[bytes], who: Requester) -> Iterator[FileRecord | Rejection]:
    """Records for every entry under ``paths`` that ``who`` may store, rejections for the rest.

    Each path is examined without following a final symlink; directories are recorded
    and walked in name order. A path named more than once, or named and also inside a
    named directory, comes out once. ``paths`` is read in full before the walk starts.
    """
    named: list[tuple[bytes, bytes | str]] = []
    for raw in paths:
        path = os.fsencode(raw)
        named.append((path, _normalised(path)))
    wanted = frozenset(norm for _, norm in named if isinstance(norm, bytes))
    done: set[bytes] = set()
    refused: set[bytes] = set()
    ancestors = Ancestors(who)
    for raw, norm in named:
        if isinstance(norm, str):
            if raw not in refused:
                refused.add(raw)
                yield Rejection(raw, norm)
            continue
        if norm in done:
            continue
        done.add(norm)
        denial = ancestors.denial(norm)
        if denial is not None:
            yield Rejection(norm, denial)
            continue
        yield from _tree(norm, who, wanted, done)


def read_path_list(path: bytes, who: Requester) -> tuple[list[bytes], list[Rejection]]:
    """The paths in a path list file, one per line, as ``who`` is allowed to read it.

    A line is any bytes up to a newline, kept exactly (spaces included); empty lines and
    lines starting with ``#`` are skipped. When the list cannot be read the paths are
    empty and the one rejection names the list file.
    """
    path = os.fsencode(path)
    norm = _normalised(path)
    try:
        if isinstance(norm, str):
            raise Denied(norm)
        content = _read_as(norm, who)
    except Denied as denied:
        reason = denied.reason
    except FileNotFoundError:
        reason = "not found"
    except OSError as exc:
        reason = exc.strerror or str(exc)
    else:
        lines = content.split(b"\n")
        return [line for line in lines if line and not line.startswith(b"#")], []
    return [], [Rejection(path, f"path list file {printable(path)} could not be read: {reason}")]


def _normalised(path: bytes) -> bytes | str:
    """``path`` with ``//`` and ``/./`` collapsed, or the reason it cannot be walked."""
    if b"\0" in path:
        return "path contains a NUL byte"
    if not path.startswith(b"/"):
        return "path must be absolute"
    parts = [part for part in path.split(b"/") if part not in (b"", b".")]
    # '..' after a symlink means the link target's parent, not the lexical one: refuse
    # rather than guess which the user meant.
    if b".." in parts:
        return "path must not contain '..' components"
    return b"/" + b"/".join(parts)


def _read_as(path: bytes, who: Requester) -> bytes:
    """The content of the regular file at ``path``, if ``who`` could read it."""
    real, st = resolve(path, who)
    if not stat.S_ISREG(st.st_mode):
        raise Denied("not a regular file")
    if not can_read(st, who):
        raise Denied(f"no read permission for user {who.name}")
    # O_NONBLOCK: should a FIFO be swapped in after the check, open must not hang.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    with open(os.open(real, flags), "rb") as handle:
        opened = os.fstat(handle.fileno())
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            raise Denied("it changed while being read")
        return handle.read()


def _tree(
    top: bytes, who: Requester, wanted: frozenset[bytes], done: set[bytes]
) -> Iterator[FileRecord | Rejection]:
    """``top`` and, if it is a directory ``who`` may list, everything below it."""
    item, names = _visit(top, who, missing="not found")
    yield item
    if names is None:
        return
    stack: list[tuple[bytes, Iterator[bytes]]] = [(top, iter(names))]
    while stack:
        directory, children = stack[-1]
        name = next(children, None)
        if name is None:
            stack.pop()
            continue
        path = child_of(directory, name)
        if path in wanted:
            # Also named on its own: whichever reaches it first emits it.
            if path in done:
                continue
            done.add(path)
        item, names = _visit(path, who, missing="disappeared while being indexed")
        yield item
        if names is not None:
            stack.append((path, iter(names)))


def _visit(
    path: bytes, who: Requester, missing: str
) -> tuple[FileRecord | Rejection, list[bytes] | None]:
    """The record or rejection for ``path``, and its sorted entries if it is to be walked."""
    try:
        st = os.lstat(path)
        item = _examined(path, st, who)
        if isinstance(item, Rejection) or item.path_type != DIRECTORY:
            return item, None
        with os.scandir(path) as entries:
            names = sorted(entry.name for entry in entries)
    except FileNotFoundError:
        return Rejection(path, missing), None
    except OSError as exc:
        return Rejection(path, f"could not be indexed: {exc.strerror or exc}"), None
    return item, names


def _examined(path: bytes, st: os.stat_result, who: Requester) -> FileRecord | Rejection:
    """What ``path`` is, given its lstat, and whether ``who`` may store it."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return _record(path, LINK, st, size=0, link_path=os.readlink(path))
    if stat.S_ISREG(mode):
        if not can_read(st, who):
            return Rejection(path, f"no read permission for user {who.name}")
        return _record(path, FILE, st, size=st.st_size)
    if stat.S_ISDIR(mode):
        if not can_list(st, who):
            return Rejection(
                path,
                f"no permission for user {who.name} to list this directory"
                " (needs read and execute)",
            )
        return _record(path, DIRECTORY, st, size=0)
    return Rejection(path, f"{_kind(mode)}: {_UNSTORABLE}")


def _record(
    path: bytes, path_type: str, st: os.stat_result, size: int, link_path: bytes | None = None
) -> FileRecord:
    return FileRecord(
        path=path,
        path_type=path_type,
        link_path=link_path,
        size=size,
        mode=st.st_mode,
        uid=st.st_uid,
        gid=st.st_gid,
        mtime_ns=st.st_mtime_ns,
    )


def _kind(mode: int) -> str:
    if stat.S_ISSOCK(mode):
        return "is a socket"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe)"
    if stat.S_ISBLK(mode):
        return "is a block device"
    if stat.S_ISCHR(mode):
        return "is a character device"
    return f"is of an unknown file type ({stat.S_IFMT(mode):o})"
