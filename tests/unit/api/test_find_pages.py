"""FIND at scale: pages that follow one another by a cursor, and a stream of every match
(NDJSON) that the API builds page by page, so neither side holds the whole listing."""

from __future__ import annotations

import json

from api.v1.files import ndjson
from domain.access import Scope
from projections.db import make_engine
from projections.queries.files import each_file, find_files
from projections.queries.filters import HoldingSelector

V1 = "/api/v1"
NDJSON = {"accept": "application/x-ndjson"}


def listed(client, headers, **params) -> list[str]:
    reply = client.get(f"{V1}/files", params=params, headers=headers)
    assert reply.status_code == 200, reply.text
    return [f["path"] for f in reply.json()["files"]]


def test_pages_follow_one_another_to_the_whole_listing(client, alice):
    whole = listed(client, alice, limit=1000)
    assert len(whole) >= 5
    paged, after = [], None
    while True:
        params = {"limit": 2, **({"after": after} if after else {})}
        reply = client.get(f"{V1}/files", params=params, headers=alice).json()
        paged += [f["path"] for f in reply["files"]]
        after = reply["next"]
        if after is None:
            break
    assert paged == whole


def test_pages_follow_one_another_backwards_too(client, alice):
    whole = listed(client, alice, limit=1000, descending="true")
    first = client.get(f"{V1}/files", params={"limit": 3, "descending": "true"}, headers=alice)
    rest = listed(client, alice, limit=1000, descending="true", after=first.json()["next"])
    assert [f["path"] for f in first.json()["files"]] + rest == whole


def test_the_stream_holds_every_match_one_per_line(client, alice):
    whole = listed(client, alice, limit=1000)
    reply = client.get(f"{V1}/files", headers={**alice, **NDJSON})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in reply.text.splitlines()]
    assert [f["path"] for f in lines] == whole
    assert set(lines[0]) >= {"path", "path_b64", "checksums", "locations", "holding_id"}


def test_a_bad_query_of_a_stream_is_refused_before_it_starts(client, alice):
    reply = client.get(f"{V1}/files", params={"regex": "*"}, headers={**alice, **NDJSON})
    assert reply.status_code == 400
    assert reply.json()["detail"]


def test_a_cursor_that_is_not_one_is_a_400(client, alice):
    reply = client.get(f"{V1}/files", params={"after": "not-a-cursor!"}, headers=alice)
    assert reply.status_code == 400
    assert "first page" in reply.json()["detail"]


def test_each_file_reads_page_by_page_what_one_query_finds(settings):
    engine = make_engine(settings.catalog.url)
    scope = Scope("alice")
    selector = HoldingSelector(None, False, None, None, {})
    with engine.connect() as conn:
        whole = [f.path for f in find_files(conn, scope, selector, limit=None)]
    assert [f.path for f in each_file(engine, scope, selector, page=2)] == whole
    assert [f.path for f in each_file(engine, scope, selector, limit=3, page=2)] == whole[:3]
    engine.dispose()


def test_a_stream_that_breaks_off_ends_with_a_whole_error_line(settings):
    """The client reads lines: the error must be one, so that it is told the listing is
    not whole rather than left with a cut connection."""
    engine = make_engine(settings.catalog.url)
    scope = Scope("alice")
    selector = HoldingSelector(None, False, None, None, {})
    first = next(each_file(engine, scope, selector))
    engine.dispose()

    def breaking():
        yield first
        raise ConnectionError("the database went away")

    lines = b"".join(ndjson(breaking(), "http://s3")).split(b"\n")
    assert json.loads(lines[0])["path"]
    assert json.loads(lines[1]) == {"error": "the listing stopped: ConnectionError"}
    assert lines[2] == b""  # the error line is complete
