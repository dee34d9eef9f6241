"""A file's bytes into the namespace: streamed to the cache under a key of a new
transaction (or, when small, gathered into a pack with others'), then recorded
(``UploadRequested``) for the decider to catalog, and answered only once the catalog
shows the outcome (read-your-writes), so that the next ``HEAD`` finds the file. The
decider is the judge of a second upload of an id (two racing PUTs included): the loser's
object is deleted, and it is answered as the original answers a second PUT."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from fastapi.responses import JSONResponse

from api import commands
from api.pacifica.archive import wire
from api.pacifica.archive.files import file_by_id, holding_id_of
from api.pacifica.archive.ingest import WrongLength, read_whole, stream_to_store
from api.pacifica.archive.store import Archive
from api.shown import Shown, outcome_shown
from domain.access import Scope
from domain.object_keys import object_key
from domain.pacifica import file_path
from domain.pack_keys import Slice
from events.requests import UploadRequested

log = logging.getLogger("nearline.pacifica")

# A PUT is answered once cataloged: a busy decider may take longer than a GET's wait.
CATALOGED_WITHIN_S = 120.0


@dataclass(frozen=True)
class Refused:
    """Why bytes were not archived, as the answer to give."""

    response: JSONResponse


async def archive_bytes(
    archive: Archive, scope: Scope, file_id: str, chunks: AsyncIterator[bytes], size: int
) -> Refused | None:
    """Store and catalog ``size`` bytes as the file ``file_id``; None once cataloged."""
    services = archive.services
    path = file_path(file_id)
    if await _exists(archive, file_id):
        await _drain(chunks)  # the client sends its body anyway: take it, keep nothing
        return Refused(wire.cannot_open(file_id))
    transaction_id = str(uuid.uuid4())
    holding_id = await asyncio.to_thread(_holding_id, archive) or 0  # 0: made by this upload
    mtime_ns = time.time_ns()
    part: Slice | None = None
    try:
        if 0 < size < services.settings.s3.pack_below:
            data, streamed = await read_whole(chunks, size)
            part = await archive.packer().add(holding_id, data)
            key = part.key
        else:
            key = object_key(holding_id, transaction_id, path.encode())
            metadata = {"size": str(size), "mtime-ns": str(mtime_ns)}
            streamed = await stream_to_store(archive.store(), key, chunks, size, metadata)
    except WrongLength as error:
        return Refused(wire.error(500, f"Error writing file {file_id}: the body was {error}"))
    except (BotoCoreError, ClientError) as error:
        log.warning("storing %s failed: %s", file_id, error)
        return Refused(wire.error(500, f"Error writing file {file_id}: the cache is unavailable"))
    stored = commands.Uploaded(key, streamed.size, mtime_ns, streamed.adler32, streamed.sha256)
    shown: Shown | None = None
    try:
        event = await asyncio.to_thread(
            commands.upload,
            services.request_log(),
            scope,
            archive.label,
            path,
            stored,
            transaction_id,
        )
        shown = await asyncio.to_thread(_outcome, archive, event)
    finally:
        if part is not None:  # a pack none of whose files was cataloged is deleted
            cataloged = None if shown is None else shown.state == "COMPLETE"
            await archive.packer().settled(part, cataloged)
    if shown is not None and shown.state == "COMPLETE":
        return None
    if await _exists(archive, file_id):  # another upload of the id won
        return Refused(wire.cannot_open(file_id))
    reason = "; ".join(shown.warnings) if shown else "not cataloged yet, try HEAD later"
    state = shown.state if shown else "pending"
    return Refused(wire.error(500, f"Error archiving file {file_id}: {state} ({reason})"))


async def _exists(archive: Archive, file_id: str) -> bool:
    def look() -> bool:
        with archive.services.engine.connect() as conn:
            return file_by_id(conn, archive.pacifica.account, archive.label, file_id) is not None

    return await asyncio.to_thread(look)


def _holding_id(archive: Archive) -> int | None:
    with archive.services.engine.connect() as conn:
        return holding_id_of(conn, archive.pacifica.account, archive.label)


def _outcome(archive: Archive, event: UploadRequested) -> Shown | None:
    with archive.services.engine.connect() as conn:
        return outcome_shown(conn, event, CATALOGED_WITHIN_S)


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    async for _chunk in chunks:
        pass
