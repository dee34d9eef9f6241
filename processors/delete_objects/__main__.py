"""The object deleter process: ``python -m processors.delete_objects worker``.

Removes each deletion batch's objects from the cache bucket and reports them removed to
the decider, which settles the batch. Deleting is idempotent (an absent object is
fine), so a redelivered batch is simply done again. While the store cannot remove them
(unreachable, refusing) the batch is retried with growing delays and never reported:
its offset is not committed, so a restart tries it again too.
"""

from __future__ import annotations

from typing import Any

from events.topics import DELETE_OBJECTS, REPORTS
from events.work import DeleteObjectsRequested
from nearline.settings import get_settings
from processors.app import decoded, make_app, send_all
from processors.delete_objects.removal import remove_until_done, report
from stores.s3.object_store import ObjectStore

settings = get_settings()
app = make_app("delete-objects", settings)
requests = app.topic(DELETE_OBJECTS)


@app.agent(requests, concurrency=1)
async def delete_objects(stream: Any) -> None:
    store = ObjectStore(settings)
    async for event, _record in decoded(stream, app):
        if not isinstance(event, DeleteObjectsRequested):
            continue
        await remove_until_done(store, event)
        await send_all(app, [(REPORTS, event.user.encode(), report(event))])


if __name__ == "__main__":
    app.main()
