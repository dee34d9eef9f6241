"""``GET /files``: find files in the holdings you can see, with their locations and
checksums."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ReadScopeDep, ServicesDep, SessionDep
from api.inputs import DbInt
from api.paths import path_from_b64, path_from_text
from api.v1 import render
from api.v1.models import ErrorOut, FileList
from api.v1.params import Limit, TagsQuery
from domain.queries import InvalidQuery
from projections.queries.files import find_files
from projections.queries.filters import HoldingSelector, parse_tag

router = APIRouter(tags=["files"])


@router.get("/files", responses={400: {"model": ErrorOut}})
def find(
    conn: SessionDep,
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
    limit: Limit = 1000,
    descending: bool = False,
) -> FileList:
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
    found = find_files(conn, scope, selector, exact, regex, limit, descending)
    object_store = services.settings.s3.endpoint_url
    return FileList(files=[render.found_file(f, object_store) for f in found])
