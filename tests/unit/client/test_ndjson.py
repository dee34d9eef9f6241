"""Reading a streamed listing: chunks cut anywhere, even inside a character, give the
same entries as the lines would; a body cut inside a line is an error, not a shorter
listing."""

from __future__ import annotations

import json

import pytest

from client.library import errors
from client.library.ndjson import entries

ENTRIES = [{"path": f"/données/{n}/é€😀.nc", "size": n, "text": "a\nb"} for n in range(200)]
BODY = b"".join(json.dumps(e, ensure_ascii=False).encode() + b"\n" for e in ENTRIES)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1000, len(BODY)])
def test_chunks_cut_anywhere_give_every_entry(size):
    chunks = (BODY[i : i + size] for i in range(0, len(BODY), size))
    assert list(entries(chunks)) == ENTRIES


def test_empty_lines_are_skipped():
    assert list(entries([b'{"a": 1}\n\n', b'\n{"a": 2}\n'])) == [{"a": 1}, {"a": 2}]


def test_a_body_cut_inside_a_line_is_an_error():
    cut = BODY[: len(BODY) - 10]
    listed = entries([cut])
    with pytest.raises(errors.ServerError, match="cut off"):
        list(listed)
