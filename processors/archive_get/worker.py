"""What archive-get does with one ``RecallRequested``: put the aggregate's members back
into the S3 cache, retried with backoff while that may help, telling progress on the way,
then report to the decider. The requests of one aggregate share its stage and split its
members (``sharing``, D182): they proceed at the same time, and an aggregate wanted by
several GETs at once is staged once. Settings, stores and the way to send come as
arguments: ``__main__`` wires them, tests give fakes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from functools import partial
from typing import Protocol

from events.base import caused_by
from events.catalog import RecallMember
from events.reports import AggregateOnline, AggregateRecalled
from events.status import SubBatchProgress
from events.topics import REPORTS, STATUS
from events.work import RECALL_CACHE, RECALL_ONLINE, RecallRequested
from nearline.settings import RecallSettings
from processors.app import Send
from processors.archive_get.recall import (
    all_failed,
    put_back,
    report,
    retryable,
    stage_if_offline,
)
from processors.archive_get.sharing import PutBack, Shared, SharedAggregates
from processors.progress import Progress, progress_event, reporting
from stores.outcomes import NO_TALLY, Tally
from stores.s3.object_store import ObjectStore
from stores.tape.cache_reading import CacheFailure
from stores.tape.endpoint import TapeEndpoint, TapeFailure
from stores.tape.packed_restore import PackedRestore

log = logging.getLogger("nearline.recall")


class PutBackMembers(Protocol):
    def __call__(
        self,
        store: ObjectStore,
        tape: TapeEndpoint,
        request: RecallRequested,
        members: list[RecallMember],
        pack_below: int,
        pack_bytes: int,
        tally: Tally = NO_TALLY,
    ) -> PackedRestore: ...


class Attempt(Protocol):
    async def __call__(
        self, request: RecallRequested, shared: Shared, tally: Tally = NO_TALLY
    ) -> AggregateRecalled | Exception: ...


class Stage(Protocol):
    def __call__(
        self,
        tape: TapeEndpoint,
        aggregate: str,
        timeout_s: float,
        first_poll_s: float,
        max_poll_s: float,
    ) -> bool: ...


class Recaller:
    """Recalls aggregates for the agent's concurrent streams, which share ``aggregates``:
    the requests of one aggregate share its stage and split its members."""

    def __init__(
        self,
        settings: RecallSettings,
        store: ObjectStore,
        tape: TapeEndpoint,
        send: Send,
        aggregates: SharedAggregates | None = None,
        *,
        pack_below: int = 0,
        pack_bytes: int = 64 * 1024 * 1024,
        put_back_: PutBackMembers = put_back,
        stage_: Stage = stage_if_offline,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        executor: Executor | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.tape = tape
        self.send = send
        self.aggregates = aggregates or SharedAggregates()
        self.pack_below = pack_below
        self.pack_bytes = pack_bytes
        self.put_back = put_back_
        self.stage = stage_
        self.sleep = sleep
        self.executor = executor  # blocking work: stage waits and reads (None: the loop's)

    async def handle(self, request: RecallRequested) -> None:
        """Recall beside the other requests of the same aggregate, then report. A GET's
        (``RECALL_ONLINE``) only stages: reported online, or failed (D231)."""
        shared = self.aggregates.enter(request.aggregate)
        try:
            if request.step == RECALL_ONLINE:
                done = await self.with_retries(request, shared, attempt=self.stage_only)
            else:
                progress = progress_of(request)
                done = await reporting(
                    self.recalled(request, progress, shared),
                    progress,
                    partial(self._tell, request),
                )
        finally:
            self.aggregates.leave(request.aggregate, shared)
        if request.step == RECALL_ONLINE and not done.failed:
            online = AggregateOnline(
                **caused_by(request, f"aggregate-online/{request.sub_batch}"),
                sub_batch=request.sub_batch,
                holding_id=request.holding_id,
                aggregate=request.aggregate,
                staged=done.staged,
            )
            await self.send([(REPORTS, request.user.encode(), online)])
            return
        await self.send([(REPORTS, request.user.encode(), done)])

    async def recalled(
        self, request: RecallRequested, progress: Progress, shared: Shared
    ) -> AggregateRecalled:
        """The recall, retried while that may help; then every member is done."""
        outcome = await self.with_retries(request, shared, progress)
        for member in request.members:
            progress.done(member["file_id"], member["size"])
        return outcome

    async def with_retries(
        self,
        request: RecallRequested,
        shared: Shared,
        tally: Tally = NO_TALLY,
        attempt: Attempt | None = None,
    ) -> AggregateRecalled:
        attempt = attempt or self.attempt
        outcome = await attempt(request, shared, tally)
        for delay in self.settings.retry_delays_s:
            if not isinstance(outcome, Exception) or not retryable(outcome):
                break
            log.warning(
                "recalling %s failed (%s); retrying in %.0fs", request.aggregate, outcome, delay
            )
            await self.sleep(delay)
            outcome = await attempt(request, shared, tally)
        if isinstance(outcome, Exception):
            log.error("recalling %s failed: %s", request.aggregate, outcome)
            reason = str(outcome) if not retryable(outcome) else f"not recalled: {outcome}"
            return all_failed(request, reason, retryable(outcome))
        log.info(
            "%s: %d members of %s (staged: %s), %d failed",
            request.step,
            len(outcome.recalled) if request.step != RECALL_ONLINE else len(request.members),
            request.aggregate,
            outcome.staged,
            len(outcome.failed),
        )
        return outcome

    async def attempt(
        self, request: RecallRequested, shared: Shared, tally: Tally = NO_TALLY
    ) -> AggregateRecalled | Exception:
        """The report, or the failure that kept the members from the cache: the members
        this request claimed are read (after the shared stage), the others awaited."""
        mine: dict[int, asyncio.Future[PutBack]] = {}
        theirs: dict[int, asyncio.Future[PutBack]] = {}
        for member in request.members:
            file_id = member["file_id"]
            claim = shared.claim(file_id)
            if claim is not None:
                mine[file_id] = claim
            else:
                theirs[file_id] = shared.claims[file_id]
        staged = False
        if mine:
            try:
                staged = await self._staged(request, shared)
                members = [m for m in request.members if m["file_id"] in mine]
                loop = asyncio.get_running_loop()
                put = partial(
                    self.put_back,
                    self.store,
                    self.tape,
                    request,
                    members,
                    self.pack_below,
                    self.pack_bytes,
                    tally,
                )
                done = await loop.run_in_executor(self.executor, put)
            except (TapeFailure, CacheFailure) as error:
                shared.stage_failed()
                for claim in mine.values():
                    if not claim.done():
                        claim.set_exception(error)
                        claim.exception()  # (seen: waiters take it from the claim)
                return error
            failures = dict(done.failed)
            for file_id, claim in mine.items():
                claim.set_result(PutBack(done.keys.get(file_id), failures.get(file_id)))
        outcomes = {file_id: claim.result() for file_id, claim in mine.items()}
        for file_id, claim in theirs.items():
            try:
                outcomes[file_id] = await asyncio.shield(claim)
            except (TapeFailure, CacheFailure) as error:
                return error
        keys = {i: o.key for i, o in outcomes.items() if o.key is not None}
        failed = [(i, o.failure or "not recalled") for i, o in outcomes.items() if o.key is None]
        return report(request, keys, failed, staged=staged)

    async def stage_only(
        self, request: RecallRequested, shared: Shared, tally: Tally = NO_TALLY
    ) -> AggregateRecalled | Exception:
        """Stage the aggregate (shared with the other requests of it), putting nothing
        back: a report with no member recalled and none failed, or the failure."""
        try:
            staged = await self._staged(request, shared)
        except TapeFailure as error:
            shared.stage_failed()
            return error
        return report(request, {}, [], staged=staged)

    async def _staged(self, request: RecallRequested, shared: Shared) -> bool:
        """Wait for the aggregate to be online; whether this request staged it."""
        if shared.stage is not None:
            await asyncio.shield(shared.stage)
            return False
        loop = asyncio.get_running_loop()
        settings = self.settings
        stage = partial(
            self.stage,
            self.tape,
            request.aggregate,
            settings.stage_timeout_s,
            settings.poll_first_s,
            settings.poll_interval_s,
        )
        shared.stage = loop.run_in_executor(self.executor, stage)
        return await asyncio.shield(shared.stage)

    async def _tell(self, request: RecallRequested, figures: SubBatchProgress) -> None:
        if request.step != RECALL_CACHE:
            return  # a GET restored from tape: its progress is transfer-get's (D231)
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
