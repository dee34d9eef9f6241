"""Paths as the API takes them: text when the bytes are valid UTF-8, else
``{"path_b64": ...}``, so that any POSIX file name, UTF-8 or not, arrives byte for byte."""

from __future__ import annotations

import base64
import os
from typing import Any

PathLike = str | bytes | os.PathLike[str] | os.PathLike[bytes]


def path_bytes(path: PathLike) -> bytes:
    """The bytes of a path; text made by ``os.fsdecode`` (surrogate escapes) included."""
    return os.fsencode(path)


def absolute(path: PathLike) -> bytes:
    """The absolute path, as bytes, without resolving links (the API wants absolute paths)."""
    return os.path.abspath(path_bytes(path))


def wire_path(path: PathLike) -> Any:
    """A path as a JSON value of a request."""
    data = path_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"path_b64": base64.b64encode(data).decode("ascii")}


def reply_path(item: dict[str, Any], field: str = "path") -> bytes:
    """The exact bytes of a path in a reply: ``<field>_b64`` when given, else the text."""
    encoded = item.get(f"{field}_b64")
    if encoded:
        return base64.b64decode(encoded)
    return str(item[field]).encode("utf-8")


def read_path_list(listing: PathLike) -> list[bytes]:
    """The paths of a list file, one per line (bytes, so any name survives); blank lines
    and lines starting with ``#`` are skipped."""
    with open(listing, "rb") as f:
        lines = f.read().split(b"\n")
    return [line.rstrip(b"\r") for line in lines if line.strip() and not line.startswith(b"#")]
