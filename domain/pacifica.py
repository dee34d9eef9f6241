"""Pacifica's archive interface names files by id. nearline keeps them as files of one
holding per namespace, each at the path ``/<id>`` (D145), so that archive, eviction,
recall, replay and history treat them as any other file."""

from __future__ import annotations

import re

# Ids as Pacifica's services make them (decimal numbers) and any other plain name; never
# a path: no "/", no leading ".", so an id can never climb out of its namespace.
_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


class BadFileId(ValueError):
    """Not an id the archive interface takes."""


def checked_id(file_id: str) -> str:
    if not _ID.fullmatch(file_id):
        raise BadFileId(f"not a file id: {file_id[:64]!r} (letters, digits, . _ -; at most 128)")
    return file_id


def holding_label(namespace: str) -> str:
    """The label of the holding that keeps a namespace's files."""
    return f"pacifica-{namespace}"


def file_path(file_id: str) -> str:
    """Where the file with this id is kept in its namespace's holding."""
    return "/" + checked_id(file_id)


def id_of(path: str) -> str | None:
    """The id kept at ``path``, or None for a path no id maps to."""
    name = path[1:] if path.startswith("/") else ""
    return name if _ID.fullmatch(name) else None
