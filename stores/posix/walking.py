"""The walk of a PUT, run inside a user's worker: what the user may store, as they see it.

It runs with the requester's own uid and groups, so the kernel decides every access; and
it walks through directory descriptors (``openat`` with ``O_NOFOLLOW``, ``fstatat``,
``scandir`` of a descriptor), never a full path twice, so a folder swapped for a link
during the walk is recorded as the link it now is instead of being followed. Symlinks are
recorded, never followed; deep trees are walked with an explicit stack.

A record is a JSON object (paths as latin-1 text, see ``wire``): ``p`` path, ``t`` type,
``l`` link target, ``s`` size, ``m`` mode, ``u`` uid, ``g`` gid, ``mt`` mtime in ns, and
for a regular file with more than one hard link ``k``, its [st_dev, st_ino] (the indexer
groups such files, decision D133); a rejection is ``p`` and ``r``, the reason in words
for the user.

Standard library only (see ``wire``).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from typing import Any

from stores.posix.wire import path, text

FILE, DIRECTORY, LINK = "FILE", "DIRECTORY", "LINK"
UNSTORABLE = "only files, directories and links can be stored"
LIST_MAX_BYTES = 256 * 1024 * 1024

# O_PATH: looking names up in the folder of a named path needs only search permission
# on it, as for the user's own lookup; listing a directory needs read too (``_BELOW``).
_PARENT = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
_BELOW = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a path list swapped for a FIFO must not hang the worker.
_LIST = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC

Item = dict[str, Any]


def walk(paths: Iterable[bytes], user: str) -> Iterator[Item]:
    """Records for every entry under ``paths`` (absolute), rejections for the rest. A
    path named twice, or named and inside a named directory, comes out once."""
    named = [(raw, normalised(raw)) for raw in paths]
    wanted = frozenset(norm for _, norm in named if isinstance(norm, bytes))
    done: set[bytes] = set()
    refused: set[bytes] = set()
    for raw, top in named:
        if isinstance(top, str):
            if raw not in refused:
                refused.add(raw)
                yield _rejected(raw, top)
            continue
        if top in done:
            continue
        done.add(top)
        yield from _tree(top, user, wanted, done)


def normalised(raw: bytes) -> bytes | str:
    """``raw`` with ``//`` and ``/./`` collapsed, or the reason it cannot be walked."""
    if b"\0" in raw:
        return "path contains a NUL byte"
    if not raw.startswith(b"/"):
        return "path must be absolute"
    parts = [part for part in raw.split(b"/") if part not in (b"", b".")]
    # '..' after a symlink means the link target's parent, not the lexical one: refuse
    # rather than guess which the user meant.
    if b".." in parts:
        return "path must not contain '..' components"
    return b"/" + b"/".join(parts)


def read_list(list_path: bytes) -> tuple[list[bytes], str | None]:
    """The lines of the path list file, as the user may read it, or why it could not be."""
    checked = normalised(list_path)
    if isinstance(checked, str):
        return [], checked
    try:
        fd = os.open(list_path, _LIST)
    except OSError as error:
        return [], _why(error)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return [], "not a regular file"
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > LIST_MAX_BYTES:
                return [], f"larger than {LIST_MAX_BYTES // (1024 * 1024)} MiB"
            chunks.append(chunk)
    except OSError as error:
        return [], _why(error)
    finally:
        os.close(fd)
    lines = b"".join(chunks).split(b"\n")
    return [line for line in lines if line and not line.startswith(b"#")], None


def _tree(top: bytes, user: str, wanted: frozenset[bytes], done: set[bytes]) -> Iterator[Item]:
    """``top`` and, if it is a directory the user may list, everything below it."""
    if top == b"/":
        parent, name = b"/", b"."
    else:
        parent, name = top.rsplit(b"/", 1)
        parent = parent or b"/"
    try:
        parent_fd = os.open(parent, _PARENT)  # links on the way are followed, as the user's
    except OSError as error:
        reason = "not found" if error.errno == errno.ENOENT else _reach(parent, user, error)
        yield _rejected(top, reason)
        return
    try:
        item, below = _visit(parent_fd, name, top, user, missing="not found")
        yield item
        if below is None:
            return
        stack: list[tuple[bytes, int, Iterator[bytes]]] = [(top, *below)]
        try:
            while stack:
                directory, fd, children = stack[-1]
                child = next(children, None)
                if child is None:
                    stack.pop()
                    os.close(fd)
                    continue
                entry = directory + child if directory == b"/" else directory + b"/" + child
                if entry in wanted:
                    if entry in done:  # also named on its own, and reached already
                        continue
                    done.add(entry)
                item, below = _visit(fd, child, entry, user, "disappeared while being indexed")
                yield item
                if below is not None:
                    stack.append((entry, *below))
        finally:
            for _, fd, _ in stack:
                os.close(fd)
    finally:
        os.close(parent_fd)


def _visit(
    parent_fd: int, name: bytes, full: bytes, user: str, missing: str
) -> tuple[Item, tuple[int, Iterator[bytes]] | None]:
    """The item for ``name`` in ``parent_fd``; for a directory to walk, its open descriptor
    and sorted entry names."""
    try:
        st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        return _rejected(full, missing), None
    except OSError as error:
        parent = full.rsplit(b"/", 1)[0] or b"/"
        return _rejected(full, _reach(parent, user, error)), None
    try:
        mode = st.st_mode
        if stat.S_ISLNK(mode):
            return _record(full, LINK, st, 0, os.readlink(name, dir_fd=parent_fd)), None
        if stat.S_ISREG(mode):
            if not os.access(name, os.R_OK, dir_fd=parent_fd):
                return _rejected(full, f"no read permission for user {user}"), None
            return _record(full, FILE, st, st.st_size), None
        if not stat.S_ISDIR(mode):
            return _rejected(full, f"{_kind(mode)}: {UNSTORABLE}"), None
        if not os.access(name, os.R_OK | os.X_OK, dir_fd=parent_fd):
            return _rejected(full, _unlistable(user)), None
        fd = os.open(name, _BELOW, dir_fd=parent_fd)
    except FileNotFoundError:
        return _rejected(full, missing), None
    except OSError as error:
        if error.errno == errno.EACCES:
            return _rejected(full, _unlistable(user)), None
        return _rejected(full, f"could not be indexed: {error.strerror or error}"), None
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            raise FileNotFoundError  # swapped between the stat and the open
        with os.scandir(fd) as entries:
            names = sorted(os.fsencode(entry.name) for entry in entries)
    except FileNotFoundError:
        os.close(fd)
        return _rejected(full, missing), None
    except OSError as error:
        os.close(fd)
        return _rejected(full, f"could not be indexed: {error.strerror or error}"), None
    return _record(full, DIRECTORY, opened, 0), (fd, iter(names))


def _record(
    full: bytes, kind: str, st: os.stat_result, size: int, link: bytes | None = None
) -> Item:
    item: Item = {
        "p": text(full),
        "t": kind,
        "l": None if link is None else text(link),
        "s": size,
        "m": st.st_mode,
        "u": st.st_uid,
        "g": st.st_gid,
        "mt": st.st_mtime_ns,
    }
    if kind == FILE and st.st_nlink > 1:
        item["k"] = [st.st_dev, st.st_ino]
    return item


def _rejected(full: bytes, reason: str) -> Item:
    return {"p": text(full), "r": reason}


def _unlistable(user: str) -> str:
    return f"no permission for user {user} to list this directory (needs read and execute)"


def _reach(parent: bytes, user: str, error: OSError) -> str:
    where = parent.decode("utf-8", "backslashreplace")
    if error.errno == errno.EACCES:
        return f"no permission for user {user} to reach directory {where}"
    if error.errno == errno.ENOTDIR:
        return f"{where} is not a directory"
    if error.errno == errno.ELOOP:
        return f"too many levels of symbolic links at {where}"
    return f"could not be looked up: {error.strerror or error}"


def _why(error: OSError) -> str:
    if error.errno == errno.ENOENT:
        return "not found"
    if error.errno == errno.EACCES:
        return "permission denied"
    return error.strerror or str(error)


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


__all__ = ["path", "read_list", "walk"]
