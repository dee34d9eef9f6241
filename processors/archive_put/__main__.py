"""The archive-put process: ``python -m processors.archive_put worker``.

Streams each requested aggregate from the S3 cache to the tape endpoint, checks the
server's adler32, and reports to the decider. An unreachable endpoint or store is retried
with backoff; after that every member is reported failed (retryable), so that nothing is
recorded as archived that is not, and a later sweep sends the files again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from events.reports import AggregateArchived
from events.topics import ARCHIVE_PUT, REPORTS
from events.work import ArchivePutRequested
from nearline.settings import get_settings
from processors.app import decoded, make_app, send_all
from processors.archive_put.put import all_failed, archive_put
from stores.s3.object_store import ObjectStore
from stores.tape.cache_reading import CacheFailure
from stores.tape.endpoint import TapeEndpoint, TapeFailure

log = logging.getLogger("nearline.archive")
settings = get_settings()
app = make_app("archive-put", settings)
requests = app.topic(ARCHIVE_PUT)
RETRY_DELAYS = (2.0, 5.0, 15.0)


def attempt(
    store: ObjectStore, tape: TapeEndpoint, request: ArchivePutRequested
) -> AggregateArchived | Exception:
    """The report, or the failure that kept the aggregate from being written."""
    try:
        return archive_put(store, tape, request)
    except (TapeFailure, CacheFailure) as error:
        return error


def retryable(error: Exception) -> bool:
    return bool(getattr(error, "retryable", False))


@app.agent(requests, concurrency=1)
async def archive(stream: Any) -> None:
    loop = asyncio.get_running_loop()
    store = ObjectStore(settings)
    tape = TapeEndpoint(settings.tape.url, settings.tape.root)
    async for event, _record in decoded(stream, app):
        if not isinstance(event, ArchivePutRequested):
            continue
        outcome = await loop.run_in_executor(None, attempt, store, tape, event)
        for delay in RETRY_DELAYS:
            if not isinstance(outcome, Exception) or not retryable(outcome):
                break
            log.warning(
                "archiving %s failed (%s); retrying in %.0fs", event.aggregate, outcome, delay
            )
            await asyncio.sleep(delay)
            outcome = await loop.run_in_executor(None, attempt, store, tape, event)
        if isinstance(outcome, Exception):
            log.error("archiving %s failed: %s", event.aggregate, outcome)
            outcome = all_failed(event, f"not archived: {outcome}", retryable(outcome))
        await send_all(app, [(REPORTS, event.user.encode(), outcome)])


if __name__ == "__main__":
    app.main()
