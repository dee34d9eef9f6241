"""The archive-put process: ``python -m processors.archive_put worker``.

Streams each requested aggregate from the S3 cache to the tape endpoint, checks the
server's adler32, and reports to the decider. An unreachable endpoint or store is retried
with backoff; after that every member is reported failed (retryable), so that nothing is
recorded as archived that is not, and a later sweep sends the files again.

Wiring only; what is done with a request is ``processors.archive_put.put``.
"""

from __future__ import annotations

from typing import Any

import faust

from events.topics import ARCHIVE_PUT
from events.work import ArchivePutRequested
from nearline.settings import Settings, get_settings
from processors.app import decoded, make_app, sender
from processors.archive_put.put import archive_with_retries
from processors.runner import run_worker
from stores.s3.object_store import ObjectStore
from stores.tape.endpoint import TapeEndpoint


def wire(settings: Settings) -> faust.App:
    app = make_app("archive-put", settings)
    send = sender(app)

    @app.agent(app.topic(ARCHIVE_PUT), concurrency=1)
    async def archive(stream: Any) -> None:
        store = ObjectStore(settings)
        tape = TapeEndpoint(settings.tape.url, settings.tape.root)
        async for event, _record in decoded(stream, app):
            if isinstance(event, ArchivePutRequested):
                await archive_with_retries(store, tape, event, send)

    return app


if __name__ == "__main__":
    run_worker(wire(get_settings()))
