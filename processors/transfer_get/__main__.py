"""The transfer-get process: ``python -m processors.transfer_get worker``.

Restores each sub-batch of a GET from the object store (or straight from its staged tape
aggregate, D231) onto POSIX disk as the requesting user (``restoring``), every file
verified against the catalog's sha256, and reports what was restored and what failed to
the decider. Files failing because the object store is unreachable are tried again,
with growing pauses, for as long as it stays unreachable: the work item is only done
(and its offset committed) once every file has an outcome that retrying cannot change,
so an outage delays a GET but never loses it. A finishing
pass (decision D34) only gives the directories a GET made their mode and mtime again.
How far a sub-batch got, in files and bytes, goes to the status topic every few seconds
while it runs and at its end (``processors.progress``).

Wiring only; what is done with a sub-batch is ``processors.transfer_get.worker``.
"""

from __future__ import annotations

from typing import Any

import faust

from events.topics import TRANSFER_GET
from events.work import TransferGetFromTapeRequested, TransferGetRequested
from nearline.settings import Settings, get_settings
from processors.app import decoded, make_app, sender
from processors.runner import run_worker
from processors.transfer_get.worker import transfer_get
from stores.s3.object_store import ObjectStore
from stores.tape.endpoint import TapeEndpoint
from stores.tape.staged_files import StagedAggregate


def wire(settings: Settings) -> faust.App:
    app = make_app("transfer-get", settings)
    send = sender(app)

    @app.agent(app.topic(TRANSFER_GET), concurrency=1)
    async def restore(stream: Any) -> None:
        store = ObjectStore(settings)
        tape: TapeEndpoint | None = None  # made at the first GET straight from tape
        async for event, _record in decoded(stream, app):
            if isinstance(event, TransferGetRequested):
                await transfer_get(settings, store, event, send)
            elif isinstance(event, TransferGetFromTapeRequested):
                tape = tape or TapeEndpoint(settings.tape.url, settings.tape.root)
                staged = StagedAggregate(tape, event.aggregate)
                await transfer_get(settings, staged, event, send)

    return app


if __name__ == "__main__":
    run_worker(wire(get_settings()))
