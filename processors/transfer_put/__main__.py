"""The transfer-put process: ``python -m processors.transfer_put worker``.

Uploads each sub-batch to the object store with concurrency and reports what was stored
(with checksums) and what failed (with reasons) to the decider. Object keys are
deterministic and existing objects are reused, so a redelivered sub-batch stores nothing
twice. A system error (the object store unreachable) sends the sub-batch to the retry
topic (``processors.retry``) with a growing delay, and the partition moves on; after
``settings.retry.max_attempts`` the files are reported failed with the error as reason.
Each retry is recorded on the status topic, so STAT shows the sub-batch's retry count,
and so is how far a sub-batch got, in files and bytes, every few seconds while it runs
and at its end (``processors.progress``).

Wiring only; what is done with a sub-batch is ``processors.transfer_put.worker``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import faust

from events.topics import TRANSFER_PUT
from events.work import TransferPutRequested
from nearline.settings import Settings, get_settings
from processors.app import decoded, make_app, sender
from processors.retry.schedule import attempt_of, schedule_retry
from processors.runner import run_worker
from processors.transfer_put.worker import transfer
from stores.s3.object_store import ObjectStore


def wire(settings: Settings) -> faust.App:
    app = make_app("transfer-put", settings)
    send = sender(app)

    @app.agent(app.topic(TRANSFER_PUT), concurrency=1)
    async def transfer_put(stream: Any) -> None:
        store = ObjectStore(settings)
        async for event, record in decoded(stream, app, (TransferPutRequested.schema_name,)):
            if not isinstance(event, TransferPutRequested):
                continue
            retry_later = partial(schedule_retry, app, record)
            await transfer(settings, store, event, attempt_of(record) + 1, send, retry_later)

    return app


if __name__ == "__main__":
    run_worker(wire(get_settings()))
