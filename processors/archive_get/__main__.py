"""The recall (archive-get) process: ``python -m processors.archive_get worker``.

Work arrives on ``nearline.archive-get`` keyed by aggregate. The requests of one
aggregate are handled one after the other (a lock per aggregate), so that an aggregate
wanted by several GETs at the same time is staged once: the first stages and puts the
members back; the others find them in the cache. Different aggregates are recalled
concurrently. A failed stage or an unreachable store is retried with backoff; after that
every member is reported failed, so nothing is reported recalled that is not. How far
a recall got, in members and bytes put back into the cache, goes to the status topic
every few seconds while it runs and at its end (``processors.progress``).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from events.reports import AggregateRecalled
from events.status import SubBatchProgress
from events.topics import ARCHIVE_GET, REPORTS, STATUS
from events.work import RecallRequested
from nearline.settings import get_settings
from processors.app import decoded, make_app, send_all
from processors.archive_get.recall import all_failed, recall, retryable
from processors.progress import Progress, progress_event, reporting
from stores.outcomes import NO_TALLY, Tally
from stores.s3.object_store import ObjectStore
from stores.tape.aggregate import CacheFailure
from stores.tape.endpoint import TapeEndpoint, TapeFailure

log = logging.getLogger("nearline.recall")
settings = get_settings()
app = make_app("archive-get", settings)
requests = app.topic(ARCHIVE_GET)
locks: dict[str, tuple[asyncio.Lock, int]] = {}  # per aggregate: its lock, and its users


def attempt(
    store: ObjectStore, tape: TapeEndpoint, request: RecallRequested, tally: Tally = NO_TALLY
) -> AggregateRecalled | Exception:
    """The report, or the failure that kept the members from the cache."""
    try:
        return recall(
            store,
            tape,
            request,
            settings.recall.stage_timeout_s,
            settings.recall.poll_interval_s,
            tally=tally,
        )
    except (TapeFailure, CacheFailure) as error:
        return error


async def recall_with_retries(
    store: ObjectStore, tape: TapeEndpoint, request: RecallRequested, tally: Tally = NO_TALLY
) -> AggregateRecalled:
    loop = asyncio.get_running_loop()
    outcome = await loop.run_in_executor(None, attempt, store, tape, request, tally)
    for delay in settings.recall.retry_delays_s:
        if not isinstance(outcome, Exception) or not retryable(outcome):
            break
        log.warning(
            "recalling %s failed (%s); retrying in %.0fs", request.aggregate, outcome, delay
        )
        await asyncio.sleep(delay)
        outcome = await loop.run_in_executor(None, attempt, store, tape, request, tally)
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


def progress_of(request: RecallRequested) -> Progress:
    """The recall's figures, nothing done yet: its members (the decider's ARCHIVE_GETTING
    has the same totals)."""
    return Progress(len(request.members), sum(m["size"] for m in request.members))


async def recalled(
    store: ObjectStore, tape: TapeEndpoint, request: RecallRequested, progress: Progress
) -> AggregateRecalled:
    """The recall, retried while that may help; then every member is done."""
    report = await recall_with_retries(store, tape, request, progress)
    for member in request.members:
        progress.done(member["file_id"], member["size"])
    return report


async def _tell(request: RecallRequested, figures: SubBatchProgress) -> None:
    told = progress_event(
        request,
        request.sub_batch,
        "ARCHIVE_GETTING",
        "get",
        figures,
        holding_id=request.holding_id,
    )
    await send_all(app, [(STATUS, request.transaction_id.encode(), told)])


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
                progress = progress_of(event)
                report = await reporting(
                    recalled(store, tape, event, progress), progress, partial(_tell, event)
                )
        finally:
            lock, users = locks[event.aggregate]
            if users == 1:
                del locks[event.aggregate]
            else:
                locks[event.aggregate] = (lock, users - 1)
        await send_all(app, [(REPORTS, event.user.encode(), report)])


if __name__ == "__main__":
    app.main()
