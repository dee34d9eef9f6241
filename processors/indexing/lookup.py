"""Resolve a path the way the kernel would for the requester, without acting as them.

The service is root, so its own path lookups always succeed. Before it touches a path
for a user it replays the lookup here: every directory a name is looked up in must be
searchable by the requester, and symlinks met on the way are followed as the kernel
follows them (a link into a directory the user cannot enter does not let them in).
"""

from __future__ import annotations

import os
import stat

from processors.indexing.access import Requester, can_search

# Linux gives up after 40 symlinks in one lookup (MAXSYMLINKS); so do we.
_MAX_SYMLINKS = 40


class Denied(Exception):
    """The requester could not reach a path; ``reason`` says why, for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def printable(path: bytes) -> str:
    """``path`` for a message to the user: undecodable bytes are shown escaped."""
    return path.decode("utf-8", "backslashreplace")


def parent_of(path: bytes) -> bytes:
    """The lexical parent of an absolute, normalised path (the root is its own parent)."""
    return path.rsplit(b"/", 1)[0] or b"/"


def child_of(directory: bytes, name: bytes) -> bytes:
    """``name`` inside ``directory``, without doubling the slash at the root."""
    return directory + name if directory == b"/" else directory + b"/" + name


def resolve(path: bytes, who: Requester) -> tuple[bytes, os.stat_result]:
    """Follow absolute ``path`` as ``who`` would: its real location and status.

    Raises ``Denied`` when a directory on the way is not searchable by ``who`` or is not
    a directory, ``FileNotFoundError`` when a component is missing, and ``OSError`` for
    other failures of the service's own lookups.
    """
    pending = list(reversed(path.split(b"/")))
    current, current_st = b"/", os.lstat(b"/")
    links = 0
    while pending:
        name = pending.pop()
        if name in (b"", b"."):
            continue
        if not stat.S_ISDIR(current_st.st_mode):
            raise Denied(f"{printable(current)} is not a directory")
        if not can_search(current_st, who):
            raise Denied(
                f"no permission for user {who.name} to enter directory {printable(current)}"
            )
        if name == b"..":
            # current never contains a symlink, so its lexical parent is its real parent.
            current = parent_of(current)
            current_st = os.lstat(current)
            continue
        candidate = child_of(current, name)
        candidate_st = os.lstat(candidate)
        if stat.S_ISLNK(candidate_st.st_mode):
            links += 1
            if links > _MAX_SYMLINKS:
                raise Denied(f"too many levels of symbolic links at {printable(candidate)}")
            target = os.readlink(candidate)
            if not target:
                raise FileNotFoundError(f"empty symbolic link {printable(candidate)}")
            if target.startswith(b"/"):
                current, current_st = b"/", os.lstat(b"/")
            pending.extend(reversed(target.split(b"/")))
            continue
        current, current_st = candidate, candidate_st
    return current, current_st


class Ancestors:
    """Whether a requester can reach the directory holding a path; one check per directory.

    Top-level paths from a path list often share directories, so answers are cached.
    """

    def __init__(self, who: Requester) -> None:
        self._who = who
        self._answers: dict[bytes, str | None] = {}

    def denial(self, path: bytes) -> str | None:
        """Why ``who`` cannot look up absolute, normalised ``path``; None when they can."""
        if path == b"/":
            return None
        directory = parent_of(path)
        if directory not in self._answers:
            self._answers[directory] = self._search_denial(directory)
        return self._answers[directory]

    def _search_denial(self, directory: bytes) -> str | None:
        try:
            real, st = resolve(directory, self._who)
        except Denied as denied:
            return denied.reason
        except FileNotFoundError:
            return "not found"
        except OSError as exc:
            return f"could not be looked up: {exc.strerror or exc}"
        if not stat.S_ISDIR(st.st_mode):
            return f"{printable(real)} is not a directory"
        if not can_search(st, self._who):
            return f"no permission for user {self._who.name} to enter directory {printable(real)}"
        return None
