"""Lexical helpers for absolute, normalised paths (bytes), and showing them to users."""

from __future__ import annotations


def printable(path: bytes) -> str:
    """``path`` for a message to the user: undecodable bytes are shown escaped."""
    return path.decode("utf-8", "backslashreplace")


def parent_of(path: bytes) -> bytes:
    """The lexical parent of an absolute, normalised path (the root is its own parent)."""
    return path.rsplit(b"/", 1)[0] or b"/"


def child_of(directory: bytes, name: bytes) -> bytes:
    """``name`` inside ``directory``, without doubling the slash at the root."""
    return directory + name if directory == b"/" else directory + b"/" + name
