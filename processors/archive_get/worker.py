"""What archive-get does with one ``RecallRequested``: recall the aggregate's members into
the S3 cache (``recall``), retried with backoff while that may help, telling progress on
the way, then report to the decider. The requests of one aggregate are handled one after
the other (``Recaller``'s lock per aggregate), so an aggregate wanted by several GETs at
once is staged once. Settings, stores and the way to send come as arguments: ``__main__``
wires them, tests give fakes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol

from events.reports import AggregateRecalled
from events.status import SubBatchProgress
from events.topics import REPORTS, STATUS
from events.work import RecallRequested
from nearline.settings import RecallSettings
from processors.app import Send
from processors.archive_get.recall import all_failed, recall, retryable
from processors.progress import Progress, progress_event, reporting
from stores.outcomes import NO_TALLY, Tally
from stores.s3.object_store import ObjectStore
from stores.tape.cache_reading import CacheFailure
from stores.tape.endpoint import TapeEndpoint, TapeFailure

log = logging.getLogger("nearline.recall")

Locks = dict[str, tuple[asyncio.Lock, int]]
"""Per aggregate: its lock, and how many requests hold or wait for it."""


class Recall(Protocol):
    def __call__(
        self,
        store: ObjectStore,
        tape: TapeEndpoint,
        request: RecallRequested,
        timeout_s: float,
        poll_s: float,
        *,
        tally: Tally,
    ) -> AggregateRecalled: ...


def attempt(
    settings: RecallSettings,
    store: ObjectStore,
    tape: TapeEndpoint,
    request: RecallRequested,
    tally: Tally = NO_TALLY,
    recall_: Recall = recall,
) -> AggregateRecalled | Exception:
    """The report, or the failure that kept the members from the cache."""
    try:
        return recall_(
            store, tape, request, settings.stage_timeout_s, settings.poll_interval_s, tally=tally
        )
    except (TapeFailure, CacheFailure) as error:
        return error


class Recaller:
    """Recalls aggregates for one of the agent's concurrent streams: one at a time per
    aggregate across the streams that share ``locks``, different aggregates at once."""

    def __init__(
        self,
        settings: RecallSettings,
        store: ObjectStore,
        tape: TapeEndpoint,
        send: Send,
        locks: Locks | None = None,
        recall_: Recall = recall,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.store = store
        self.tape = tape
        self.send = send
        self.recall = recall_
        self.sleep = sleep
        self.locks: Locks = {} if locks is None else locks

    async def handle(self, request: RecallRequested) -> None:
        """Recall behind any other request of the same aggregate, then report."""
        lock, users = self.locks.get(request.aggregate, (asyncio.Lock(), 0))
        self.locks[request.aggregate] = (lock, users + 1)
        try:
            async with lock:
                progress = progress_of(request)
                report = await reporting(
                    self.recalled(request, progress), progress, partial(self._tell, request)
                )
        finally:
            lock, users = self.locks[request.aggregate]
            if users == 1:
                del self.locks[request.aggregate]
            else:
                self.locks[request.aggregate] = (lock, users - 1)
        await self.send([(REPORTS, request.user.encode(), report)])

    async def recalled(self, request: RecallRequested, progress: Progress) -> AggregateRecalled:
        """The recall, retried while that may help; then every member is done."""
        report = await self.with_retries(request, progress)
        for member in request.members:
            progress.done(member["file_id"], member["size"])
        return report

    async def with_retries(
        self, request: RecallRequested, tally: Tally = NO_TALLY
    ) -> AggregateRecalled:
        loop = asyncio.get_running_loop()
        once = partial(attempt, self.settings, self.store, self.tape, request, tally, self.recall)
        outcome = await loop.run_in_executor(None, once)
        for delay in self.settings.retry_delays_s:
            if not isinstance(outcome, Exception) or not retryable(outcome):
                break
            log.warning(
                "recalling %s failed (%s); retrying in %.0fs", request.aggregate, outcome, delay
            )
            await self.sleep(delay)
            outcome = await loop.run_in_executor(None, once)
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

    async def _tell(self, request: RecallRequested, figures: SubBatchProgress) -> None:
        told = progress_event(
            request,
            request.sub_batch,
            "ARCHIVE_GETTING",
            "get",
            figures,
            holding_id=request.holding_id,
        )
        await self.send([(STATUS, request.transaction_id.encode(), told)])


def progress_of(request: RecallRequested) -> Progress:
    """The recall's figures, nothing done yet: its members (the decider's ARCHIVE_GETTING
    has the same totals)."""
    return Progress(len(request.members), sum(m["size"] for m in request.members))
