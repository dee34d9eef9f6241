"""The object deleter process: ``python -m processors.delete_objects worker``.

Removes each deletion batch's objects from the cache bucket and reports them removed to
the decider, which settles the batch. Deleting is idempotent (an absent object is
fine), so a redelivered batch is simply done again. While the store cannot remove them
(unreachable, refusing) the batch is retried with growing delays and never reported:
its offset is not committed, so a restart tries it again too.

Wiring only; what is done with a batch is ``processors.delete_objects.removal``.
"""

from __future__ import annotations

from typing import Any

import faust

from events.topics import DELETE_OBJECTS
from events.work import DeleteObjectsRequested
from nearline.settings import Settings, get_settings
from processors.app import decoded, make_app, sender
from processors.delete_objects.removal import delete_objects
from processors.runner import run_worker
from stores.s3.object_store import ObjectStore


def wire(settings: Settings) -> faust.App:
    app = make_app("delete-objects", settings)
    send = sender(app)

    @app.agent(app.topic(DELETE_OBJECTS), concurrency=1)
    async def delete(stream: Any) -> None:
        store = ObjectStore(settings)
        async for event, _record in decoded(stream, app):
            if isinstance(event, DeleteObjectsRequested):
                await delete_objects(store, event, send)

    return app


if __name__ == "__main__":
    run_worker(wire(get_settings()))
