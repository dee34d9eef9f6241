"""Where a cataloged path is restored, refusing paths that could leave that place.

Paths are bytes and handled lexically: names may hold spaces, newlines or bytes that are
not UTF-8. A catalog path is absolute; under a target directory it is recreated below the
target (``/data/run/a.nc`` into ``/home/alice/out`` is ``/home/alice/out/data/run/a.nc``),
otherwise it goes back where it was.

This is the lexical half. The other half is on disk, in the requester's own worker
(``stores.posix.placing``): below the target every folder is opened from the one above
without following links, so a link planted or swapped in below the target
(``target/data -> /etc``) fails the write instead of leading it out.
"""

from __future__ import annotations

from stores.posix.lookup import child_of, printable


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
