"""The archive interface's routes: one resource per file, ``/<id>`` (only the first path
segment counts, as in the original), with the original's methods, messages and codes.

A missing id is 404 on HEAD, GET and DELETE (the original crashes into a 500) and 500 on
POST, where cartd takes nothing but a 500 as a failure to stage (D150)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from api import commands
from api.pacifica.archive import wire
from api.pacifica.archive.files import cached_copy, file_by_id, on_tape
from api.pacifica.archive.store import Archive
from api.pacifica.archive.upload import archive_bytes
from api.pacifica.caller import PacificaCaller
from api.shown import outcome_shown, transaction_shown
from domain.pacifica import BadFileId, checked_id, file_path
from domain.pack_keys import slice_of
from projections.queries.files import FoundFile
from projections.queries.filters import HoldingSelector
from stores.posix.beneath import Refused, take_beneath

router = APIRouter()

READ_SIZE = 1024 * 1024


def _archive(request: Request) -> Archive:
    archive: Archive = request.app.state.archive
    return archive


@router.get("/")
def alive() -> dict[str, str]:
    """Liveness, unauthenticated as in the original."""
    return {"message": wire.UP}


@router.put("/{name:path}", status_code=201)
async def put(name: str, request: Request, scope: PacificaCaller) -> Response:
    """Store the request body as the file ``<id>``; 201 once it is cataloged."""
    file_id = _id(name)
    if isinstance(file_id, Response):
        return file_id
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        return wire.error(411, "Content-Length is required: the size of the file to archive")
    refused = await archive_bytes(_archive(request), scope, file_id, request.stream(), int(length))
    if refused is not None:
        return refused.response
    return JSONResponse({"message": wire.ADDED, "total_bytes": int(length)}, status_code=201)


@router.head("/{name:path}")
async def head(name: str, request: Request, scope: PacificaCaller) -> Response:
    """The file's status, in headers only."""
    found = await _find(request, name)
    if isinstance(found, Response):
        return Response(status_code=found.status_code)
    file_id, entry = found
    status = wire.Status(
        file_id=file_id,
        size=entry.size,
        mtime_s=entry.mtime_ns / 1e9,
        ctime_s=entry.ingest_time / 1e3,
        on_disk=cached_copy(entry) is not None,
        on_tape=on_tape(entry),
    )
    return Response(status_code=204, headers=status.headers())


@router.post("/{name:path}")
async def stage(name: str, request: Request, scope: PacificaCaller) -> Response:
    """Bring the file into the cache (nearline's STAGE) unless it is there; its status
    then says ``disk``."""
    archive = _archive(request)
    found = await _find(request, name, missing_status=500)
    if isinstance(found, Response):
        return found
    file_id, entry = found
    if cached_copy(entry) is None:

        def record() -> None:
            event = commands.stage(
                archive.services.request_log(),
                scope,
                [file_path(file_id)],
                HoldingSelector(label=archive.label),
            )
            with archive.services.engine.connect() as conn:
                transaction_shown(conn, event, archive.services.settings.api.read_your_writes_s)

        await asyncio.to_thread(record)
    return JSONResponse({"message": wire.STAGED, "file": file_id})


@router.get("/{name:path}")
async def read(
    name: str,
    request: Request,
    scope: PacificaCaller,
    byte_range: Annotated[str | None, Query(pattern=r"^\d+-\d+$")] = None,
) -> Response:
    """The file's bytes (``byte_range=S-E``: from S up to, not including, E)."""
    found = await _find(request, name)
    if isinstance(found, Response):
        return found
    file_id, entry = found
    first, end = 0, entry.size
    if byte_range is not None:
        first, end = (int(n) for n in byte_range.split("-"))
        if not first <= end <= entry.size:
            return wire.error(500, f"Invalid byte range {byte_range} of a {entry.size} byte file")
    copy = cached_copy(entry)
    if copy is None:
        return wire.error(
            500,
            f"File {file_id} is on tape only: POST /{file_id} to stage it, then HEAD until "
            "its X-Pacifica-File-Storage-Media is disk",
        )
    archive = _archive(request)
    try:
        chunks = await asyncio.to_thread(_open_range, archive, copy.path, first, end)
    except (BotoCoreError, ClientError):
        return wire.error(500, f"File {file_id} left the cache just now: POST /{file_id} again")
    headers = {"Content-Length": str(end - first)}
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)


@router.delete("/{name:path}")
async def delete(name: str, request: Request, scope: PacificaCaller) -> Response:
    """Remove the file (nearline's DELETE); 200 with an empty body once it is gone."""
    archive = _archive(request)
    found = await _find(request, name)
    if isinstance(found, Response):
        return found
    file_id, _entry = found

    def record() -> str:
        event = commands.delete(
            archive.services.request_log(),
            scope,
            [file_path(file_id)],
            HoldingSelector(label=archive.label),
        )
        with archive.services.engine.connect() as conn:
            shown = outcome_shown(conn, event, archive.services.settings.api.read_your_writes_s)
        return shown.state if shown else "pending"

    state = await asyncio.to_thread(record)
    if state != "COMPLETE":
        return wire.error(500, f"Error deleting file {file_id}: {state}")
    return Response(status_code=200)


@router.patch("/{name:path}")
async def move_in(
    name: str,
    request: Request,
    scope: PacificaCaller,
    body: Annotated[dict[str, Any], Body()],
) -> Response:
    """Move a file of the server's ingest folder in as ``<id>`` (the service's own files
    only: nothing outside ``pacifica.ingest_folder``)."""
    file_id = _id(name)
    if isinstance(file_id, Response):
        return file_id
    archive = _archive(request)
    folder = archive.pacifica.ingest_folder
    given = body.get("path")
    if folder is None:
        return wire.error(
            403, "PATCH is off: this server has no ingest folder (pacifica.ingest_folder)"
        )
    if not isinstance(given, str) or not given:
        return wire.error(400, 'Give the file to move in as {"path": "<path on the server>"}')
    try:
        taken = await asyncio.to_thread(take_beneath, str(folder), given)
    except Refused as refused:
        return wire.error(
            403, f"Only files below the ingest folder {folder} can be moved in: {refused}"
        )
    except OSError as error:
        return wire.error(500, f"Can't open {given}: {error.strerror}")
    with taken, os.fdopen(os.dup(taken.fd), "rb", buffering=0) as source_file:
        size = os.fstat(source_file.fileno()).st_size
        refused_upload = await archive_bytes(archive, scope, file_id, _read(source_file), size)
        if refused_upload is not None:
            return refused_upload.response
        # Moved: the archive's copy is the file now. A name that no longer names the
        # file read (replaced meanwhile) is left as it is.
        await asyncio.to_thread(taken.remove)
    return JSONResponse({"message": wire.MOVED})


# -- helpers -----------------------------------------------------------------------------


def _id(name: str) -> str | Response:
    """The id a request names: its first path segment, if it is a plain id."""
    try:
        return checked_id(name.split("/", 1)[0])
    except BadFileId as error:
        return wire.error(400, str(error))


async def _find(
    request: Request, name: str, missing_status: int = 404
) -> tuple[str, FoundFile] | Response:
    file_id = _id(name)
    if isinstance(file_id, Response):
        return file_id
    archive = _archive(request)

    def look() -> FoundFile | None:
        with archive.services.engine.connect() as conn:
            return file_by_id(conn, archive.pacifica.account, archive.label, file_id)

    found = await asyncio.to_thread(look)
    if found is None:
        return wire.error(missing_status, f"File {file_id} was not found")
    return file_id, found


def _open_range(archive: Archive, key: str, first: int, end: int) -> Iterator[bytes]:
    """Bytes ``first`` up to ``end`` of the cached copy at ``key`` (a pack slice's range
    of its pack), asked of the store now so that a missing object fails before the
    answer starts."""
    if end == first:
        return iter(())
    part = slice_of(key)
    offset = part.offset if part else 0
    store = archive.store()
    reply = store.client.get_object(
        Bucket=store.bucket,
        Key=part.pack if part else key,
        Range=f"bytes={offset + first}-{offset + end - 1}",
    )
    return reply["Body"].iter_chunks(READ_SIZE)


async def _read(source: Any) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(source.read, READ_SIZE):
        yield chunk
