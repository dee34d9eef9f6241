"""The indexer process: ``python -m processors.indexer worker``.

It walks the paths of each IndexRequested as the requesting user (in their own
file-system worker, ``stores.posix``) and reports bounded
sub-batches to the decider. A redelivered request is walked again: the walk is
deterministic and the reports carry deterministic ids, so the decider ignores repeats.

Wiring only; the walk and its reports are ``processors.indexer.worker``.
"""

from __future__ import annotations

from typing import Any

import faust

from events.topics import INDEX
from events.work import IndexRequested
from nearline.settings import Settings, get_settings
from processors.app import decoded, make_app, sender
from processors.indexer.worker import index
from processors.runner import run_worker


def wire(settings: Settings) -> faust.App:
    app = make_app("indexer", settings)
    send = sender(app)

    @app.agent(app.topic(INDEX), concurrency=1)
    async def indexer(stream: Any) -> None:
        async for event, _record in decoded(stream, app, (IndexRequested.schema_name,)):
            if isinstance(event, IndexRequested):
                await index(settings, event, send)

    return app


if __name__ == "__main__":
    run_worker(wire(get_settings()))
