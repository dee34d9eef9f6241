"""The recall (archive-get) process: ``python -m processors.recall worker``.

Work arrives on ``nearline.archive-get`` keyed by aggregate. The requests of one
aggregate are handled one after the other (a lock per aggregate), so that an aggregate
wanted by several GETs at the same time is staged once: the first stages and puts the
members back; the others find them in the cache. Different aggregates are recalled
concurrently. A failed stage or an unreachable store is retried with backoff; after that
every member is reported failed, so nothing is reported recalled that is not.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from events.reports import AggregateRecalled
from events.topics import ARCHIVE_GET, REPORTS
from events.work import RecallRequested
from nearline.settings import get_settings
from processors.app import decoded, make_app, send_all
from processors.archive.aggregate import CacheFailure
from processors.archive.tape import TapeEndpoint, TapeFailure
from processors.recall.recall import all_failed, recall, retryable
from processors.transfer.object_store import ObjectStore

log = logging.getLogger("nearline.recall")
settings = get_settings()
app = make_app("archive-get", settings)
requests = app.topic(ARCHIVE_GET)
locks: dict[str, tuple[asyncio.Lock, int]] = {}  # per aggregate: its lock, and its users


def attempt(
    store: ObjectStore, tape: TapeEndpoint, request: RecallRequested
) -> AggregateRecalled | Exception:
    """The report, or the failure that kept the members from the cache."""
    try:
        return recall(
            store, tape, request, settings.recall.stage_timeout_s, settings.recall.poll_interval_s
        )
    except (TapeFailure, CacheFailure) as error:
        return error


async def recall_with_retries(
    store: ObjectStore, tape: TapeEndpoint, request: RecallRequested
) -> AggregateRecalled:
    loop = asyncio.get_running_loop()
    outcome = await loop.run_in_executor(None, attempt, store, tape, request)
    for delay in settings.recall.retry_delays_s:
        if not isinstance(outcome, Exception) or not retryable(outcome):
            break
        log.warning(
            "recalling %s failed (%s); retrying in %.0fs", request.aggregate, outcome, delay
        )
        await asyncio.sleep(delay)
        outcome = await loop.run_in_executor(None, attempt, store, tape, request)
    if isinstance(outcome, Exception):
        log.error("recalling %s failed: %s", request.aggregate, outcome)
        reason = str(outcome) if not retryable(outcome) else f"not recalled: {outcome}"
        return all_failed(request, reason, retryable(outcome))
    log.info(
        "recalled %d members of %s (staged: %s), %d failed",
        len(outcome.recalled),
        request.aggregate,
        outcome.staged,
        len(outcome.failed),
    )
    return outcome


@app.agent(requests, concurrency=settings.recall.concurrency)
async def recall_aggregates(stream: Any) -> None:
    store = ObjectStore(settings)
    tape = TapeEndpoint(settings.tape.url, settings.tape.root)
    async for event, _record in decoded(stream, app):
        if not isinstance(event, RecallRequested):
            continue
        lock, users = locks.get(event.aggregate, (asyncio.Lock(), 0))
        locks[event.aggregate] = (lock, users + 1)
        try:
            async with lock:
                report = await recall_with_retries(store, tape, event)
        finally:
            lock, users = locks[event.aggregate]
            if users == 1:
                del locks[event.aggregate]
            else:
                locks[event.aggregate] = (lock, users - 1)
        await send_all(app, [(REPORTS, event.user.encode(), report)])


if __name__ == "__main__":
    app.main()
