"""The evict worker: ``python -m processors.evict worker``.

Removes the cache copies the eviction policy chose and reports them to the decider, which
records ``FilesEvicted``.

Wiring only; what is done with a request is ``processors.evict.removal``.
"""

from __future__ import annotations

from typing import Any

import faust

from events.topics import EVICT
from events.work import EvictRequested
from nearline.settings import Settings, get_settings
from processors.app import decoded, make_app, sender
from processors.evict.removal import evict
from processors.runner import run_worker
from stores.s3.object_store import ObjectStore


def wire(settings: Settings) -> faust.App:
    app = make_app("evict", settings)
    send = sender(app)

    @app.agent(app.topic(EVICT), concurrency=1)
    async def remove(stream: Any) -> None:
        store = ObjectStore(settings)
        async for event, _record in decoded(stream, app):
            if isinstance(event, EvictRequested):
                await evict(store, event, send)

    return app


if __name__ == "__main__":
    run_worker(wire(get_settings()))
