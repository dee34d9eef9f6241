"""Reading a listing the server streams as NDJSON (one JSON object per line): whole
chunks are split at once rather than line by line, and each line is parsed by orjson,
since at a million entries the per-line work of a generic line reader and of the
standard ``json`` costs more than everything else the client does (D201, D212)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from client.library import errors

ERROR = b'{"error":'
"""How the server's last line starts when it had to stop a listing before its end."""


def batches(chunks: Iterable[bytes]) -> Iterator[list[bytes]]:
    """The lines of an NDJSON body given in chunks cut anywhere, as they are (UTF-8
    JSON, no newline), a list per chunk that ends a line; no empty line. A body that
    ends inside a line was cut off, and a line the server ends a listing with when it
    had to stop is its error: either is a ServerError, so that a caller never takes a
    partial listing for the whole (the lines before it are given first)."""
    pending: list[bytes] = []
    for chunk in chunks:
        end = chunk.rfind(b"\n")
        if end < 0:
            pending.append(chunk)
            continue
        if pending:
            pending.append(chunk[:end])
            whole = b"".join(pending)
            pending = []
        else:
            whole = chunk[:end]
        if end + 1 < len(chunk):
            pending.append(chunk[end + 1 :])
        lines = [line for line in whole.split(b"\n") if line]
        if lines and lines[-1].startswith(ERROR):
            if len(lines) > 1:
                yield lines[:-1]
            raise errors.ServerError(orjson.loads(lines[-1])["error"], "Try again later.", 500)
        if lines:
            yield lines
    if b"".join(pending).strip():
        raise errors.ServerError("The listing was cut off before its end.", "Try again later.", 502)


def entries(chunks: Iterable[bytes]) -> Iterator[Any]:
    """The objects of an NDJSON body given in chunks cut anywhere (see ``batches``)."""
    loads = orjson.loads
    for lines in batches(chunks):
        yield from map(loads, lines)
