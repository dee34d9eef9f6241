"""``GET /files``: find files in the holdings you can see, with their locations and
checksums. A page of JSON (``limit``, then ``after`` the page's ``next``), or, asked for
with ``Accept: application/x-ndjson``, every match streamed one per line: memory stays
bounded in the API and the client however many files match (D146)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Iterator
from itertools import chain
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic_core import to_json
from sqlalchemy import Engine

from api.deps import ReadScopeDep, ServicesDep
from api.inputs import DbInt
from api.paths import path_from_b64, path_from_text
from api.queries.file_lines import Lines, file_lines
from api.queries.file_pages import FilePage, Listing, Sizes, file_pages
from api.read_ahead import read_ahead
from api.v1 import render
from api.v1.models import ErrorOut, FileList
from api.v1.params import Limit, TagsQuery
from domain.queries import InvalidQuery
from projections.queries.files import Position
from projections.queries.filters import HoldingSelector, parse_tag

log = logging.getLogger("nearline.api")
router = APIRouter(tags=["files"])
NDJSON = "application/x-ndjson"
PAGE_SIZE = 1000  # a JSON page when no limit is given


@router.get(
    "/files",
    response_model=FileList,
    responses={
        400: {"model": ErrorOut},
        200: {"content": {NDJSON: {"schema": {"type": "string"}}}},
    },
)
def find(
    request: Request,
    scope: ReadScopeDep,
    services: ServicesDep,
    path: Annotated[str | None, Query(description="exact path (text)")] = None,
    path_b64: Annotated[str | None, Query(description="exact path (base64 of its bytes)")] = None,
    regex: Annotated[str | None, Query(description="regular expression (RE2) on path text")] = None,
    label: str | None = None,
    label_regex: bool = False,
    holding_id: DbInt | None = None,
    transaction_id: str | None = None,
    tag: TagsQuery = [],  # noqa: B006 (FastAPI copies defaults)
    limit: Limit | None = None,
    descending: bool = False,
    after: Annotated[str | None, Query(description="the `next` of the page before")] = None,
) -> Response:
    """Cataloged files, ordered by holding and path."""
    exact = None
    if path is not None and path_b64 is not None:
        raise InvalidQuery("Give path or path_b64, not both.")
    if path is not None:
        exact = path_from_text(path)
    elif path_b64 is not None:
        try:
            exact = path_from_b64(path_b64)
        except ValueError as error:
            raise InvalidQuery(str(error)) from None
    tags = dict(parse_tag(t) for t in tag)
    selector = HoldingSelector(label, label_regex, holding_id, transaction_id, tags)
    object_store = services.settings.s3.endpoint_url
    start = position(after) if after is not None else None
    streamed = NDJSON in request.headers.get("accept", "")
    if streamed and start is not None:
        raise InvalidQuery("A stream starts at the first file: leave after out.")
    size = limit or PAGE_SIZE
    listing = Listing(scope, selector, exact, regex, descending)
    found = (
        pages(services.engine, listing, object_store, Sizes(limit), ahead=True)
        if streamed
        else pages(services.engine, listing, object_store, Sizes(size, size, size, start))
    )
    first = next(found, None)  # a bad query is a 400 before anything is sent
    if streamed:
        whole = chain([first], found) if first is not None else iter(())
        return StreamingResponse(ndjson(whole), media_type=NDJSON)
    files = first.text.rstrip(b"\n").replace(b"\n", b",") if first is not None else b""
    following = cursor(first.last) if first is not None and first.count == size else None
    # As FileList writes it: a JSON line holds no newline, so the lines joined by commas
    # are the array's items.
    body = b'{"files":[' + files + b'],"next":' + to_json(following) + b"}"
    return Response(body, media_type="application/json")


def pages(
    engine: Engine, listing: Listing, object_store: str, sizes: Sizes, ahead: bool = False
) -> Iterator[Lines]:
    """The listing's pages as NDJSON. PostgreSQL writes the lines itself (D210); elsewhere
    (SQLite) they are rendered here. ``ahead``: a stream's, the next page read (and
    rendered, in a stage of its own) while the one before is sent (D200)."""
    staged = read_ahead if ahead else iter
    if engine.dialect.name == "postgresql":
        return staged(file_lines(engine, listing, object_store, sizes))
    return staged(rendered(staged(file_pages(engine, listing, sizes)), object_store))


def rendered(pages: Iterator[FilePage], object_store: str) -> Iterator[Lines]:
    """Pages of rows as the text the database would have written (``FileOut``'s bytes)."""
    for page in pages:
        lines = [to_json(_fields(f, page, object_store)) for f in page.files]
        lines.append(b"")
        yield Lines(b"\n".join(lines), page.count, page.last)


def ndjson(pages: Iterator[Lines]) -> Iterator[bytes]:
    """One JSON object per line, a page per chunk: the server's worker thread hands over,
    and the socket is written, once per page rather than once per file (D200)."""
    try:
        for page in pages:
            yield page.text
    except Exception as error:  # the client must know the listing is not whole
        log.exception("a streamed listing stopped")
        yield json.dumps({"error": f"the listing stopped: {type(error).__name__}"}).encode()
        yield b"\n"


def _fields(row: Any, page: FilePage, object_store: str) -> dict[str, Any]:
    file_id = row[0]
    checksums, locations = page.checksums.get(file_id, {}), page.locations.get(file_id, ())
    return render.listed_file(row, checksums, locations, object_store)


def cursor(last: Any) -> str:
    return base64.urlsafe_b64encode(b"%d:" % last.holding_id + last.path).decode()


def position(text: str) -> Position:
    try:
        holding, _, path = base64.urlsafe_b64decode(text.encode()).partition(b":")
        return Position(int(holding), path)
    except (binascii.Error, ValueError):
        raise InvalidQuery(
            "after is not the next of a page: ask for the first page again."
        ) from None
