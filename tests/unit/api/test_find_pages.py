"""FIND at scale: pages that follow one another by a cursor, and a stream of every match
(NDJSON) that the API builds page by page, so neither side holds the whole listing."""

from __future__ import annotations

import json

from pydantic_core import to_json

from api.queries.file_pages import FILE_COLUMNS, Listing, Sizes, file_pages
from api.v1 import render
from api.v1.files import cursor, ndjson, rendered
from api.v1.models import FileList
from domain.access import Scope
from domain.states import OBJECT_STORAGE, TAPE
from projections.db import make_engine
from projections.queries.files import FoundFile, Location, each_file, find_files
from projections.queries.filters import HoldingSelector

V1 = "/api/v1"
NDJSON = {"accept": "application/x-ndjson"}
T0 = 1_700_000_000_000


def copies(locations: list[Location]) -> list[tuple[str, str, str, int]]:
    return [(c.storage_type, c.root, c.path, c.access_time) for c in locations]


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


def test_the_stream_shows_each_file_as_the_pages_do(client, alice):
    """The stream renders rows without the models the pages use: what it sends must be
    what they send, file for file (a path that is not UTF-8, a link, the locations)."""
    pages = client.get(f"{V1}/files", params={"limit": 1000}, headers=alice).json()["files"]
    reply = client.get(f"{V1}/files", headers={**alice, **NDJSON})
    streamed = [json.loads(line) for line in reply.text.splitlines()]
    assert streamed == pages
    assert any(f["path_b64"] for f in streamed) and any(f["link_path"] for f in streamed)


def test_a_page_is_written_as_its_model_writes_it(client, alice, settings):
    """Pages are written without models too: byte for byte what ``FileList`` writes."""
    reply = client.get(f"{V1}/files", params={"limit": 3}, headers=alice)
    engine = make_engine(settings.catalog.url)
    with engine.connect() as conn:
        found = find_files(conn, Scope("alice", "climate"), HoldingSelector(), limit=3)
    engine.dispose()
    store = settings.s3.endpoint_url
    model = FileList(files=[render.found_file(f, store) for f in found], next=cursor(found[-1]))
    assert reply.headers["content-type"] == "application/json"
    assert reply.content == model.model_dump_json().encode()


def test_a_streamed_file_is_written_as_the_model_writes_it():
    """Byte for byte, for what the story's catalog lacks: a slice of a pack, a tape copy,
    a link whose target is not UTF-8, text that JSON must escape."""
    f = FoundFile(
        id=7, holding_id=3, label='run "7"\n', user="alice", group="climate",
        transaction_id="t-1", ingest_time=1_700_000_000_123, path="/d/é\t\"x\".nc".encode(),
        path_type="LINK", link_path=b"/d/\xff", size=2**40, mode=0o120777, uid=0, gid=0,
        mtime_ns=1_700_000_000_123_456_789, checksums={"ADLER32": "0a0b0c0d", "SHA256": "ab"},
        locations=[
            Location(OBJECT_STORAGE, "cache bucket", f"3/pack={'ab' * 32}#100+9", T0),
            Location(OBJECT_STORAGE, "cache", "3/t-1/a b.nc", 1_700_000_000_001),
            Location(TAPE, "agg-1", "member-7", 1_700_000_000_999),
        ],
    )  # fmt: skip
    row = tuple(getattr(f, c) for c in FILE_COLUMNS)
    fields = render.listed_file(row, f.checksums, copies(f.locations), "http://s3:9000/")
    assert to_json(fields) == render.found_file(f, "http://s3:9000/").model_dump_json().encode()
    assert fields["locations"][0]["url"].endswith("#bytes=100-108")


def test_file_pages_read_what_one_query_finds_in_pages_of_the_size_asked(settings):
    engine = make_engine(settings.catalog.url)
    scope, selector = Scope("alice"), HoldingSelector()
    with engine.connect() as conn:
        whole = find_files(conn, scope, selector, limit=None)
    pages = list(file_pages(engine, Listing(scope, selector), Sizes(page=2, first_page=1)))
    assert [len(p.files) for p in pages][:3] == [1, 2, 2]
    assert [r.path for p in pages for r in p.files] == [f.path for f in whole]
    by_id = {f.id: f for f in whole}
    for page in pages:
        for row in page.files:
            assert page.checksums.get(row.id, {}) == by_id[row.id].checksums
            assert page.locations.get(row.id, []) == copies(by_id[row.id].locations)
    limited = list(file_pages(engine, Listing(scope, selector), Sizes(3, page=2, first_page=1)))
    assert [r.path for p in limited for r in p.files] == [f.path for f in whole[:3]]
    backwards = file_pages(
        engine, Listing(scope, selector, descending=True), Sizes(page=2, first_page=2)
    )
    assert [r.path for p in backwards for r in p.files] == [f.path for f in reversed(whole)]
    engine.dispose()


def test_a_stream_sends_a_page_per_chunk(settings):
    """One chunk per page, not per file: a chunk is one hand-over from the worker thread
    and one write to the socket (D200)."""
    engine = make_engine(settings.catalog.url)
    listing = Listing(Scope("alice"), HoldingSelector())
    pages = list(file_pages(engine, listing, Sizes(page=2, first_page=2)))
    engine.dispose()
    chunks = list(ndjson(rendered(iter(pages), "http://s3")))
    assert len(chunks) == len(pages) > 1
    assert [c.count(b"\n") for c in chunks] == [len(p.files) for p in pages]


def test_a_stream_that_breaks_off_ends_with_a_whole_error_line(settings):
    """The client reads lines: the error must be one, so that it is told the listing is
    not whole rather than left with a cut connection."""
    engine = make_engine(settings.catalog.url)
    scope = Scope("alice")
    selector = HoldingSelector(None, False, None, None, {})
    first = next(file_pages(engine, Listing(scope, selector), Sizes(first_page=1)))
    engine.dispose()

    def breaking():
        yield first
        raise ConnectionError("the database went away")

    lines = b"".join(ndjson(rendered(breaking(), "http://s3"))).split(b"\n")
    assert json.loads(lines[0])["path"]
    assert json.loads(lines[1]) == {"error": "the listing stopped: ConnectionError"}
    assert lines[2] == b""  # the error line is complete
