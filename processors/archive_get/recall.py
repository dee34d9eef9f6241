"""One recall: stage an aggregate, read the needed members by offset, verify them, and put
them back into the S3 cache under their object keys; as a report for the decider.

Members already in the cache with the archived checksums are not read. When all are
there nothing is staged (nor when the endpoint still has the aggregate on disk): a second
request for an aggregate that was just recalled finds its members in the cache (the
worker serialises the requests of one aggregate).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from events.base import caused_by
from events.catalog import MemberFailure, RecalledFile
from events.reports import AggregateRecalled
from events.work import RecallRequested
from stores.outcomes import NO_TALLY, Tally
from stores.tape.aggregate import MemberCopy
from stores.tape.cache_reading import CachedObjects, head_objects
from stores.tape.endpoint import TapeEndpoint
from stores.tape.errors import TapeFailure, TapeOffline
from stores.tape.members import TAPE_CORRUPT, holds_copy, restore_members_to_cache

__all__ = ["StageExpired", "StageFailed", "all_failed", "recall", "retryable"]


class StageFailed(TapeFailure):
    """The endpoint reported the recall failed, or the aggregate went offline again:
    staging it again may succeed."""

    retryable = True


class StageExpired(TapeFailure):
    """The aggregate was not online within the stage timeout."""

    retryable = False


def retryable(error: Exception) -> bool:
    return bool(getattr(error, "retryable", False)) or isinstance(error, TapeOffline)


def copies_of(request: RecallRequested) -> list[MemberCopy]:
    return [
        MemberCopy(m["file_id"], m["path"], m["offset"], m["size"], m["sha256"], m["adler32"])
        for m in request.members
    ]


def recall(
    store: CachedObjects,
    tape: TapeEndpoint,
    request: RecallRequested,
    timeout_s: float,
    poll_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    tally: Tally = NO_TALLY,
) -> AggregateRecalled:
    """Recall the request's members, each counted in ``tally`` (by file id) as it goes
    back into the cache. Raises ``TapeFailure`` (``StageExpired`` after ``timeout_s``)
    and ``CacheFailure``; a corrupt member fails alone in the report."""
    copies = copies_of(request)
    keys = {m["file_id"]: m["object_key"] for m in request.members}
    heads = head_objects(store, list(keys.values()))
    if all(
        (head := heads[keys[c.file_id]]) is not None and holds_copy(head.size, head.metadata, c)
        for c in copies
    ):
        return report(request, [c.file_id for c in copies], [], staged=False)
    staged = not tape.stat(request.aggregate).online  # a disk copy needs no tape mount
    if staged:
        stage(tape, request.aggregate, timeout_s, poll_s, sleep, clock)
    done = restore_members_to_cache(store, tape, request.aggregate, copies, keys, tally=tally)
    failed = [(f.file_id, f.reason) for f in done.failed]
    return report(request, list(done.restored), failed, staged=staged)


def stage(
    tape: TapeEndpoint,
    aggregate: str,
    timeout_s: float,
    poll_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Stage the aggregate and wait until it is online, at most ``timeout_s``."""
    request_id = tape.stage([aggregate])
    deadline = clock() + timeout_s
    while True:
        state = tape.stage_status(request_id, [aggregate])[aggregate]
        if state.online:
            return
        if not state.exists:
            raise TapeFailure(f"{aggregate}: no such aggregate on the tape endpoint")
        if state.error and "checksum mismatch" in state.error:
            raise TapeFailure(f"{TAPE_CORRUPT} ({aggregate}: {state.error})")
        if state.error:
            raise StageFailed(f"{aggregate}: the recall failed: {state.error}")
        if clock() >= deadline:
            raise StageExpired(f"stage expired after {timeout_s:g} s")
        sleep(poll_s)


def report(
    request: RecallRequested,
    restored: list[int],
    failed: list[tuple[int, str]],
    staged: bool,
    retry: bool = False,
) -> AggregateRecalled:
    members = {m["file_id"]: m for m in request.members}
    return AggregateRecalled(
        **caused_by(request, f"aggregate-recalled/{request.sub_batch}"),
        sub_batch=request.sub_batch,
        holding_id=request.holding_id,
        aggregate=request.aggregate,
        recalled=[
            RecalledFile(
                file_id=i,
                path=members[i]["path"],
                object_key=members[i]["object_key"],
                size=members[i]["size"],
            )
            for i in restored
        ],
        failed=[
            MemberFailure(
                file_id=i,
                path=members[i]["path"],
                reason=reason,
                retryable=retry or not reason.startswith(TAPE_CORRUPT),
            )
            for i, reason in failed
        ],
        staged=staged,
    )


def all_failed(request: RecallRequested, reason: str, retry: bool) -> AggregateRecalled:
    """Nothing was recalled: every member failed for the same reason."""
    failed = [(m["file_id"], reason) for m in request.members]
    return report(request, [], failed, staged=False, retry=retry)
