"""One recall's steps: stage an aggregate (once, shared by the requests that want it:
``processors.archive_get.worker``), read the needed members by offset, verify them, and
put them back into the S3 cache, small ones in packs (D180); the report for the decider.

Nothing is HEADed: the request says which members are wanted and where they are in the
aggregate, and the requests running beside it which they claimed. A stage is followed with
prepare-query at growing intervals (D181): the tape endpoint cannot tell when a stage
completes, and a fixed poll either wastes queries on a long mount or waits up to a whole
interval after a short one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from domain.object_keys import key_prefix
from events.base import caused_by
from events.catalog import MemberFailure, RecalledFile, RecallMember
from events.reports import AggregateRecalled
from events.work import RecallRequested
from stores.outcomes import NO_TALLY, Tally
from stores.tape.aggregate import MemberCopy
from stores.tape.cache_reading import CachedObjects
from stores.tape.endpoint import TapeEndpoint
from stores.tape.errors import TapeFailure, TapeOffline
from stores.tape.members import TAPE_CORRUPT
from stores.tape.packed_restore import PackedRestore, Packing, restore_packed

__all__ = [
    "StageExpired",
    "StageFailed",
    "all_failed",
    "put_back",
    "report",
    "retryable",
    "stage",
    "stage_if_offline",
]

POLL_GROWTH = 1.1  # each wait for a stage this much longer: found at most ~10% late


class StageFailed(TapeFailure):
    """The endpoint reported the recall failed, or the aggregate went offline again:
    staging it again may succeed."""

    retryable = True


class StageExpired(TapeFailure):
    """The aggregate was not online within the stage timeout."""

    retryable = False


def retryable(error: Exception) -> bool:
    return bool(getattr(error, "retryable", False)) or isinstance(error, TapeOffline)


def copies_of(members: Sequence[RecallMember]) -> list[MemberCopy]:
    return [
        MemberCopy(m["file_id"], m["path"], m["offset"], m["size"], m["sha256"], m["adler32"])
        for m in members
    ]


def put_back(
    store: CachedObjects,
    tape: TapeEndpoint,
    request: RecallRequested,
    members: Sequence[RecallMember],
    pack_below: int,
    pack_bytes: int,
    tally: Tally = NO_TALLY,
) -> PackedRestore:
    """Read ``members`` of the request's (online) aggregate into the cache: small ones in
    packs under the request's transaction, the others at their own object keys."""
    packing = Packing(
        key_prefix(request.holding_id, request.transaction_id), pack_below, pack_bytes
    )
    keys = {m["file_id"]: m["object_key"] for m in members}
    return restore_packed(
        store, tape, request.aggregate, copies_of(members), keys, packing, tally=tally
    )


def stage_if_offline(
    tape: TapeEndpoint,
    aggregate: str,
    timeout_s: float,
    first_poll_s: float,
    max_poll_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Stage the aggregate unless it is on disk already (a disk copy needs no tape mount);
    whether it staged."""
    if tape.stat(aggregate).online:
        return False
    stage(tape, aggregate, timeout_s, first_poll_s, max_poll_s, sleep, clock)
    return True


def stage(
    tape: TapeEndpoint,
    aggregate: str,
    timeout_s: float,
    first_poll_s: float,
    max_poll_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Stage the aggregate and wait until it is online, at most ``timeout_s``: queried
    after ``first_poll_s``, then at intervals growing up to ``max_poll_s``."""
    request_id = tape.stage([aggregate])
    deadline = clock() + timeout_s
    wait = first_poll_s
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
        sleep(min(wait, max(deadline - clock(), 0.0)))
        wait = min(wait * POLL_GROWTH, max_poll_s)


def report(
    request: RecallRequested,
    restored: Mapping[int, str],
    failed: list[tuple[int, str]],
    staged: bool,
    retry: bool = False,
) -> AggregateRecalled:
    """The request's outcome: ``restored`` gives each member's cache key now."""
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
                object_key=key,
                size=members[i]["size"],
            )
            for i, key in restored.items()
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
    return report(request, {}, failed, staged=False, retry=retry)
