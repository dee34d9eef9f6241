"""Walk the paths named in a PUT and describe what the requester may store.

The walk itself runs in the requester's own file-system worker (``stores.posix``): with
their uid and groups, so the kernel decides what they may read, and through directory
descriptors, so a folder swapped for a link during the walk is recorded as that link,
never followed. This module turns its answers into records and rejections.

Paths are bytes throughout: names on disk may hold spaces, newlines or bytes that are
not UTF-8, and the catalogue must get them back exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from stores.posix.lookup import printable
from stores.posix.session import UserFiles
from stores.posix.walking import DIRECTORY, FILE, LINK

__all__ = ["DIRECTORY", "FILE", "LINK", "FileRecord", "Rejection", "walk"]


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


def walk(
    files: UserFiles, paths: Iterable[bytes], list_file: bytes | None = None
) -> Iterator[FileRecord | Rejection]:
    """Records for every entry under ``paths`` (and the paths listed in ``list_file``)
    that the user of ``files`` may store, rejections for the rest, in walk order.

    Directories are recorded and walked in name order; a path named more than once, or
    named and also inside a named directory, comes out once.
    """
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
            )
