"""The transfer-get process: ``python -m processors.transfer_get worker``.

Restores each sub-batch of a GET from the object store onto POSIX disk as the requesting
user (``restoring``), every file verified against the catalog's sha256, and reports what
was restored and what failed to the decider. Files failing because the object store is
unreachable are tried again, with growing pauses, for as long as it stays unreachable:
the work item is only done (and its offset committed) once every file has an outcome
that retrying cannot change, so an outage delays a GET but never loses it. A finishing
pass (decision D34) only gives the directories a GET made their mode and mtime again.
How far a sub-batch got, in files and bytes, goes to the status topic every few seconds
while it runs and at its end (``processors.progress``).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from events.base import event_id_for
from events.reports import FilesRestored
from events.status import SubBatchProgress
from events.topics import REPORTS, STATUS, TRANSFER_GET
from events.work import TransferGetRequested
from nearline.settings import get_settings
from processors.app import decoded, make_app, now_ms, send_all
from processors.progress import Progress, progress_event, reporting
from processors.transfer_get.restoring import (
    Outcome,
    all_failed,
    finish_batch,
    restore_batch,
    until_settled,
)
from stores.outcomes import NO_TALLY, Tally
from stores.posix.requesters import RefusedRequester, UnknownUser, requester_for
from stores.posix.session import UserFiles, WorkerFailed
from stores.s3.object_store import ObjectStore

log = logging.getLogger("nearline.transfer-get")
settings = get_settings()
app = make_app("transfer-get", settings)
requests = app.topic(TRANSFER_GET)


def restore(
    store: ObjectStore,
    request: TransferGetRequested,
    paths: set[bytes] | None,
    tally: Tally = NO_TALLY,
) -> Outcome:
    """Restore the request's entries (only ``paths`` when given) in the requester's own
    file-system worker, counting each regular file in ``tally``."""
    files = [f for f in request.files if paths is None or f["path"] in paths]
    try:
        who = requester_for(request.user, settings.posix.min_uid)
        session = UserFiles(who, settings.posix.min_uid, settings.posix.worker_timeout_s)
    except UnknownUser:
        return all_failed(files, f"user {request.user} is not known on the file servers")
    except (RefusedRequester, WorkerFailed) as refused:
        return all_failed(files, str(refused))
    with session:
        if request.finishing:
            return finish_batch(session, files, request.target)
        return restore_batch(store, session, files, request.target, request.overwrite, tally=tally)


def report(request: TransferGetRequested, outcome: Outcome) -> FilesRestored:
    return FilesRestored(
        event_id=event_id_for(request.transaction_id, f"restored/{request.sub_batch}"),
        transaction_id=request.transaction_id,
        user=request.user,
        group=request.group,
        cause_id=request.event_id,
        occurred_at=now_ms(),
        sub_batch=request.sub_batch,
        restored=list(outcome.restored),
        failed=list(outcome.failed),
        created=list(outcome.created),
    )


async def _attempt(
    store: ObjectStore,
    request: TransferGetRequested,
    tally: Tally,
    paths: set[bytes] | None,
) -> Outcome:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, restore, store, request, paths, tally)


def progress_of(request: TransferGetRequested) -> Progress:
    """The sub-batch's figures, nothing done yet: its regular files (the decider's
    TRANSFER_GETTING has the same totals)."""
    files = [f for f in request.files if f["path_type"] == "FILE"]
    return Progress(len(files), sum(f["size"] for f in files))


async def settled(store: ObjectStore, request: TransferGetRequested, progress: Progress) -> Outcome:
    """The sub-batch restored until no failure is worth retrying; then every file is
    done."""
    name = f"{request.transaction_id}/{request.sub_batch}"
    outcome = await until_settled(partial(_attempt, store, request, progress), asyncio.sleep, name)
    for item in request.files:
        if item["path_type"] == "FILE":
            progress.done(item["path"], item["size"])
    return outcome


async def _tell(request: TransferGetRequested, figures: SubBatchProgress) -> None:
    told = progress_event(request, request.sub_batch, "TRANSFER_GETTING", "get", figures)
    await send_all(app, [(STATUS, request.transaction_id.encode(), told)])


@app.agent(requests, concurrency=1)
async def transfer_get(stream: Any) -> None:
    store = ObjectStore(settings)
    async for event, _record in decoded(stream, app):
        if not isinstance(event, TransferGetRequested):
            continue
        if event.finishing:  # directories only: nothing to count
            name = f"{event.transaction_id}/{event.sub_batch}"
            attempt = partial(_attempt, store, event, NO_TALLY)
            outcome = await until_settled(attempt, asyncio.sleep, name)
        else:
            progress = progress_of(event)
            outcome = await reporting(
                settled(store, event, progress), progress, partial(_tell, event)
            )
        await send_all(app, [(REPORTS, event.user.encode(), report(event, outcome))])


if __name__ == "__main__":
    app.main()
