"""The evict worker: ``python -m processors.evict worker``.

Removes the cache copies the eviction policy chose and reports them to the decider, which
records ``FilesEvicted``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from events.topics import EVICT, REPORTS
from events.work import EvictRequested
from nearline.settings import get_settings
from processors.app import decoded, make_app, send_all
from processors.evict.removal import remove
from stores.s3.object_store import ObjectStore

settings = get_settings()
app = make_app("evict", settings)
requests = app.topic(EVICT)


@app.agent(requests, concurrency=1)
async def evict(stream: Any) -> None:
    loop = asyncio.get_running_loop()
    store = ObjectStore(settings)
    async for event, _record in decoded(stream, app):
        if not isinstance(event, EvictRequested):
            continue
        report = await loop.run_in_executor(None, remove, store, event)
        await send_all(app, [(REPORTS, event.user.encode(), report)])


if __name__ == "__main__":
    app.main()
