"""Walk the paths named in a PUT and describe what the requester may store.

The walk itself runs in the requester's own file-system worker (``stores.posix``): with
their uid and groups, so the kernel decides what they may read, and through directory
descriptors, so a folder swapped for a link during the walk is recorded as that link,
never followed. This module turns its answers into records and rejections.

Paths are bytes throughout: names on disk may hold spaces, newlines or bytes that are
not UTF-8, and the catalogue must get them back exactly.

Regular files that are hard links of each other (one st_dev and st_ino, st_nlink above 1)
are noted as a link group named by the first of them in walk order (decision D133), so
that a GET can make them one inode again. Only such files are remembered, one entry per
inode, for the length of the PUT.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from stores.posix.lookup import printable
from stores.posix.session import UserFiles
from stores.posix.walking import DIRECTORY, FILE, LINK

__all__ = ["DIRECTORY", "FILE", "LINK", "FileRecord", "Rejection", "walk"]


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One storable entry as found on disk.

    ``size`` counts the bytes of content to store: a file's length, 0 for directories
    and links (a link's target is ``link_path``). ``mode`` is the full ``st_mode``.
    ``link_group``: for a regular file with other hard links, the path of the first file
    of this walk that is the same inode (its own path for that first one); else None.
    """

    path: bytes
    path_type: str
    link_path: bytes | None
    size: int
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    link_group: bytes | None = None


@dataclass(frozen=True)
class Rejection:
    """A path that will not be stored, and why, in words for the user."""

    path: bytes
    reason: str


def walk(
    files: UserFiles, paths: Iterable[bytes], list_file: bytes | None = None
) -> Iterator[FileRecord | Rejection]:
    """Records for every entry under ``paths`` (and the paths listed in ``list_file``)
    that the user of ``files`` may store, rejections for the rest, in walk order.

    Directories are recorded and walked in name order; a path named more than once, or
    named and also inside a named directory, comes out once. Files that share an inode
    get the same ``link_group``: the path of the first of them.
    """
    first_of_inode: dict[tuple[int, int], bytes] = {}
    for item in files.walk(list(paths), list_file):
        if "list" in item:
            reason = f"path list file {printable(item['p'])} could not be read: {item['list']}"
            yield Rejection(item["p"], reason)
        elif "r" in item:
            yield Rejection(item["p"], item["r"])
        else:
            yield FileRecord(
                path=item["p"],
                path_type=item["t"],
                link_path=item["l"],
                size=item["s"],
                mode=item["m"],
                uid=item["u"],
                gid=item["g"],
                mtime_ns=item["mt"],
                link_group=_link_group(first_of_inode, item),
            )


def _link_group(first_of_inode: dict[tuple[int, int], bytes], item: dict[str, Any]) -> bytes | None:
    """The path of the first file of the walk with ``item``'s inode, if it has hard links."""
    inode = item.get("k")
    if inode is None:
        return None
    return first_of_inode.setdefault((int(inode[0]), int(inode[1])), item["p"])
