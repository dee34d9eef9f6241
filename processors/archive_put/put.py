"""Archive-put: one aggregate of a holding's cached files written to tape, as a report.

``AggregateArchived`` says where each member's bytes are in the tar and which members
failed. The aggregate's tape path is a function of its members, and the endpoint reuses
an existing file with the same bytes, so a redelivered request writes nothing twice.
``archive_with_retries`` is what the process does with a request: write it (in a thread),
try again with backoff while the failure may clear, report. The stores and the way to
send come as arguments: ``__main__`` wires them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from events.base import caused_by
from events.catalog import ArchivedMember, MemberFailure
from events.reports import AggregateArchived
from events.topics import REPORTS
from events.work import ArchivePutRequested
from processors.app import Send
from stores.tape.aggregate import AggregateIndex, Member, archive
from stores.tape.cache_reading import CachedObjects, CacheFailure
from stores.tape.endpoint import TapeEndpoint, TapeFailure

log = logging.getLogger("nearline.archive")
RETRY_DELAYS = (2.0, 5.0, 15.0)


def members_of(request: ArchivePutRequested) -> list[Member]:
    return [
        Member(
            file_id=m["file_id"],
            path=m["path"],
            object_key=m["object_key"],
            size=m["size"],
            mode=m["mode"],
            mtime_ns=m["mtime_ns"],
            sha256=m["sha256"],
            adler32=m["adler32"],
        )
        for m in request.members
    ]


def archive_put(
    store: CachedObjects, tape: TapeEndpoint, request: ArchivePutRequested
) -> AggregateArchived:
    """Write the aggregate (or find it written) and report it. Raises ``TapeFailure`` and
    ``CacheFailure`` as ``aggregate.archive`` does."""
    index = archive(store, tape, request.holding_id, members_of(request))
    return report(request, index)


def report(request: ArchivePutRequested, index: AggregateIndex) -> AggregateArchived:
    paths = {m["file_id"]: m["path"] for m in request.members}
    return _report(
        request,
        aggregate=index.name if index.members else "",
        size=index.size,
        adler32=index.adler32,
        members=[
            ArchivedMember(
                file_id=c.file_id,
                path=c.path,
                offset=c.offset,
                size=c.size,
                sha256=c.sha256,
                adler32=c.adler32,
            )
            for c in index.members
        ],
        failed=[
            MemberFailure(
                file_id=f.file_id, path=paths[f.file_id], reason=f.reason, retryable=False
            )
            for f in index.failed
        ],
    )


def all_failed(request: ArchivePutRequested, reason: str, retryable: bool) -> AggregateArchived:
    """Nothing was archived: every member failed for the same reason."""
    failed = [
        MemberFailure(file_id=m["file_id"], path=m["path"], reason=reason, retryable=retryable)
        for m in request.members
    ]
    return _report(request, aggregate="", size=0, adler32="00000001", members=[], failed=failed)


def _report(request: ArchivePutRequested, **fields: object) -> AggregateArchived:
    return AggregateArchived(
        **caused_by(request, "aggregate-archived"),
        holding_id=request.holding_id,
        **fields,  # type: ignore[arg-type]
    )


def attempt(
    store: CachedObjects, tape: TapeEndpoint, request: ArchivePutRequested
) -> AggregateArchived | Exception:
    """The report, or the failure that kept the aggregate from being written."""
    try:
        return archive_put(store, tape, request)
    except (TapeFailure, CacheFailure) as error:
        return error


def retryable(error: Exception) -> bool:
    return bool(getattr(error, "retryable", False))


async def archive_with_retries(
    store: CachedObjects,
    tape: TapeEndpoint,
    request: ArchivePutRequested,
    send: Send,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Write the aggregate, retried after ``RETRY_DELAYS`` while the failure may clear;
    then report it, or every member failed with the reason."""
    loop = asyncio.get_running_loop()
    outcome = await loop.run_in_executor(None, attempt, store, tape, request)
    for delay in RETRY_DELAYS:
        if not isinstance(outcome, Exception) or not retryable(outcome):
            break
        log.warning(
            "archiving %s failed (%s); retrying in %.0fs", request.aggregate, outcome, delay
        )
        await sleep(delay)
        outcome = await loop.run_in_executor(None, attempt, store, tape, request)
    if isinstance(outcome, Exception):
        log.error("archiving %s failed: %s", request.aggregate, outcome)
        outcome = all_failed(request, f"not archived: {outcome}", retryable(outcome))
    await send([(REPORTS, request.user.encode(), outcome)])
