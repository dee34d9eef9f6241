"""The object deleter process: ``python -m processors.deletion worker``.

Removes each deletion batch's objects from the cache bucket and reports them removed to
the decider, which settles the batch. Deleting is idempotent (an absent object is
fine), so a redelivered batch is simply done again. While the store cannot remove them
(unreachable, refusing) the batch is retried with growing delays and never reported:
its offset is not committed, so a restart tries it again too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from events.base import event_id_for
from events.reports import ObjectsDeleted
from events.topics import DELETE_OBJECTS, REPORTS
from events.work import DeleteObjectsRequested
from nearline.settings import get_settings
from processors.app import decoded, make_app, now_ms, send_all
from processors.transfer.object_store import ObjectStore

log = logging.getLogger("nearline.deletion")
settings = get_settings()
app = make_app("delete-objects", settings)
requests = app.topic(DELETE_OBJECTS)
RETRY_DELAYS = (1.0, 4.0, 15.0, 60.0)  # the last repeats until the store is back


def remove(store: ObjectStore, keys: list[str]) -> str | None:
    """Remove the objects; None once all are gone, or what stopped it."""
    try:
        refused = store.delete_many(keys)
    except (BotoCoreError, ClientError) as error:
        return str(error)
    return "; ".join(refused[:5]) if refused else None


def report(request: DeleteObjectsRequested) -> ObjectsDeleted:
    return ObjectsDeleted(
        event_id=event_id_for(request.transaction_id, f"objects-deleted/{request.sub_batch}"),
        transaction_id=request.transaction_id,
        user=request.user,
        group=request.group,
        cause_id=request.event_id,
        occurred_at=now_ms(),
        holding_id=request.holding_id,
        sub_batch=request.sub_batch,
        object_keys=list(request.object_keys),
    )


@app.agent(requests, concurrency=1)
async def delete_objects(stream: Any) -> None:
    loop = asyncio.get_running_loop()
    store = ObjectStore(settings)
    async for event, _record in decoded(stream, app):
        if not isinstance(event, DeleteObjectsRequested):
            continue
        attempt = 0
        while trouble := await loop.run_in_executor(None, remove, store, event.object_keys):
            delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
            log.warning(
                "cannot remove objects of %s/%d (%s); retrying in %.0fs",
                event.transaction_id,
                event.sub_batch,
                trouble,
                delay,
            )
            attempt += 1
            await asyncio.sleep(delay)
        await send_all(app, [(REPORTS, event.user.encode(), report(event))])


if __name__ == "__main__":
    app.main()
