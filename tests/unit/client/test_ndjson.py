"""Reading a streamed listing: chunks cut anywhere, even inside a character, give the
same entries as the lines would; a body cut inside a line is an error, not a shorter
listing."""

from __future__ import annotations

import json

import pytest

from client.library import errors
from client.library.ndjson import batches, entries

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


@pytest.mark.parametrize("size", [1, 5, 64, len(BODY)])
def test_lines_are_passed_on_as_the_server_wrote_them(size):
    chunks = (BODY[i : i + size] for i in range(0, len(BODY), size))
    assert [line for lines in batches(chunks) for line in lines] == BODY.splitlines()


def test_the_error_line_of_a_listing_stopped_is_raised_after_the_lines_before_it():
    stopped = BODY[:300].rpartition(b"\n")[0] + b'\n{"error": "the listing stopped: X"}\n'
    given = []
    with pytest.raises(errors.ServerError, match="the listing stopped: X"):
        for lines in batches([stopped[:50], stopped[50:]]):
            given += lines
    assert given == stopped.splitlines()[:-1]
    with pytest.raises(errors.ServerError, match="the listing stopped: X"):
        list(entries([stopped]))
