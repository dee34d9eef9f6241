"""Reading a listing the server streams as NDJSON (one JSON object per line): whole
chunks are split and decoded at once rather than line by line, since at a million
entries the per-line work of a generic line reader costs more than parsing them (D201)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from client.library import errors

_decode = json.JSONDecoder().decode


def entries(chunks: Iterable[bytes]) -> Iterator[Any]:
    """The objects of an NDJSON body given in chunks cut anywhere. A body that ends
    inside a line was cut off: ServerError, so that a caller never takes a partial
    listing for the whole."""
    rest = b""
    for chunk in chunks:
        end = chunk.rfind(b"\n")
        if end < 0:
            rest += chunk
            continue
        # A newline is one byte in UTF-8 and inside no other character: the text up to
        # the last one decodes whole.
        text = (rest + chunk[: end + 1]).decode()
        rest = chunk[end + 1 :]
        for line in text.split("\n"):
            if line:
                yield _decode(line)
    if rest.strip():
        raise errors.ServerError("The listing was cut off before its end.", "Try again later.", 502)
