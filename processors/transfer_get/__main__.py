"""The transfer-get process: ``python -m processors.transfer_get worker``.

Restores each sub-batch of a GET from the object store onto POSIX disk as the requesting
user (``restoring``), every file verified against the catalog's sha256, and reports what
was restored and what failed to the decider. Files failing because the object store is
unreachable are tried again, with growing pauses, for as long as it stays unreachable:
the work item is only done (and its offset committed) once every file has an outcome
that retrying cannot change, so an outage delays a GET but never loses it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from events.base import event_id_for
from events.catalog import FileFailure
from events.reports import FilesRestored
from events.topics import REPORTS, TRANSFER_GET
from events.work import TransferGetRequested
from nearline.settings import get_settings
from processors.app import decoded, make_app, now_ms, send_all
from processors.indexing.access import UnknownUser, requester_for
from processors.transfer.failures import UNREACHABLE
from processors.transfer.object_store import ObjectStore
from processors.transfer_get.restoring import Outcome, restore_batch

log = logging.getLogger("nearline.transfer-get")
settings = get_settings()
app = make_app("transfer-get", settings)
requests = app.topic(TRANSFER_GET)
RETRY_DELAYS = (1.0, 4.0, 15.0)  # then every MAX_DELAY while the store is unreachable
MAX_DELAY = 60.0


def restore(store: ObjectStore, request: TransferGetRequested, paths: set[bytes] | None) -> Outcome:
    """Restore the request's entries (only ``paths`` when given) as its user."""
    files = [f for f in request.files if paths is None or f["path"] in paths]
    try:
        who = requester_for(request.user)
    except UnknownUser:
        reason = f"user {request.user} is not known on the file servers"
        return Outcome(
            [], [FileFailure(path=f["path"], reason=reason, retryable=False) for f in files]
        )
    return restore_batch(store, files, request.target, who, request.overwrite)


def merged(earlier: Outcome, retried: Outcome) -> Outcome:
    """``earlier`` with the outcomes of its retried entries replaced."""
    again = {f["path"] for f in earlier.failed if f["retryable"]}
    return Outcome(
        earlier.restored + retried.restored,
        [f for f in earlier.failed if f["path"] not in again] + retried.failed,
    )


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
    )


def _unreachable(outcome: Outcome) -> bool:
    return any(f["retryable"] and f["reason"].startswith(UNREACHABLE) for f in outcome.failed)


@app.agent(requests, concurrency=1)
async def transfer_get(stream: Any) -> None:
    loop = asyncio.get_running_loop()
    store = ObjectStore(settings)
    async for event, _record in decoded(stream, app):
        if not isinstance(event, TransferGetRequested):
            continue
        outcome = await loop.run_in_executor(None, restore, store, event, None)
        attempt = 0
        while outcome.retryable() and (attempt < len(RETRY_DELAYS) or _unreachable(outcome)):
            delay = RETRY_DELAYS[attempt] if attempt < len(RETRY_DELAYS) else MAX_DELAY
            attempt += 1
            log.warning(
                "object store trouble in %s/%d (%d files); retrying in %.0fs",
                event.transaction_id,
                event.sub_batch,
                len(outcome.retryable()),
                delay,
            )
            await asyncio.sleep(delay)
            again = set(outcome.retryable())
            retried = await loop.run_in_executor(None, restore, store, event, again)
            outcome = merged(outcome, retried)
        await send_all(app, [(REPORTS, event.user.encode(), report(event, outcome))])


if __name__ == "__main__":
    app.main()
