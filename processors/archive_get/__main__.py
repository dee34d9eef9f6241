"""The recall (archive-get) process: ``python -m processors.archive_get worker``.

Work arrives on ``nearline.archive-get`` keyed by aggregate. The requests of one
aggregate share its stage and split its members (D182): the sub-batches of a GET read
their members at the same time, and an aggregate wanted by several GETs at the same time
is staged once and each member put back once. Small members go back in packs (D180).
A failed stage or an unreachable store is retried with backoff; after that every member
is reported failed, so nothing is reported recalled that is not. How far a recall got,
in members and bytes put back into the cache, goes to the status topic every few seconds
while it runs and at its end (``processors.progress``).

Wiring only; what is done with a request is ``processors.archive_get.worker``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust

from events.topics import ARCHIVE_GET
from events.work import RecallRequested
from nearline.settings import Settings, get_settings
from processors.app import decoded, make_app, sender
from processors.archive_get.sharing import SharedAggregates
from processors.archive_get.worker import Recaller
from processors.runner import run_worker
from stores.s3.object_store import ObjectStore
from stores.tape.endpoint import TapeEndpoint


def wire(settings: Settings) -> faust.App:
    app = make_app("archive-get", settings)
    send = sender(app)
    # Shared by the agent's streams: one stage per aggregate, each member claimed once.
    aggregates = SharedAggregates()
    # Stage waits and reads block: threads enough for every stream to do both at once.
    pool = ThreadPoolExecutor(2 * settings.recall.concurrency, "nearline-recall")

    @app.agent(app.topic(ARCHIVE_GET), concurrency=settings.recall.concurrency)
    async def recall_aggregates(stream: Any) -> None:
        store = ObjectStore(settings)
        tape = TapeEndpoint(settings.tape.url, settings.tape.root)
        recaller = Recaller(
            settings.recall,
            store,
            tape,
            send,
            aggregates,
            pack_below=settings.s3.pack_below,
            pack_bytes=settings.s3.pack_bytes,
            executor=pool,
        )
        async for event, _record in decoded(stream, app):
            if isinstance(event, RecallRequested):
                await recaller.handle(event)

    return app


if __name__ == "__main__":
    run_worker(wire(get_settings()))
