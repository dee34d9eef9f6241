"""Carts of files only on tape: the cart processor asks the decider to STAGE them, waits
until those stages have finished, and prepares the cart again (decision D82).

A stage is an ordinary ``StageRequested`` of the cart's owner, per holding and in chunks
of exact paths, with transaction ids that follow from the cart: a redelivered cart asks
for the same stages, which the decider does not plan twice.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence

from events.base import event_id_for
from events.carts import CartRequested
from events.requests import StageRequested
from processors.app import now_ms
from processors.carts.ports import CartFile, CatalogReads, StageOutcome
from processors.carts.prepare import CartRequest

PATHS_PER_STAGE = 1000  # one request stays far below Kafka's record size limit


def stages_for_cart(request: CartRequest, on_tape: Sequence[CartFile]) -> list[StageRequested]:
    """The STAGE requests that bring the cart's tape-only files into the cache (as a
    member of the group when the files are another user's)."""
    if isinstance(request, CartRequested):
        groupall = request.groupall
    else:
        groupall = request.user != request.owner
    by_holding: dict[int, list[bytes]] = defaultdict(list)
    groups: dict[int, str] = {}
    for f in on_tape:
        by_holding[f.holding_id].append(f.path)
        groups[f.holding_id] = f.group  # a stage reaches a holding in its own group
    stages = []
    for holding_id, paths in sorted(by_holding.items()):
        paths = sorted(set(paths))
        for start in range(0, len(paths), PATHS_PER_STAGE):
            transaction_id = event_id_for(request.cart_id, "stage", str(holding_id), str(start))
            stages.append(
                StageRequested(
                    event_id=event_id_for(transaction_id, "requested"),
                    transaction_id=transaction_id,
                    user=request.user,
                    group=groups[holding_id],
                    cause_id=request.event_id,
                    occurred_at=now_ms(),
                    paths=paths[start : start + PATHS_PER_STAGE],
                    regex=None,
                    label=None,
                    holding_id=holding_id,
                    tags={},
                    job_label=f"cart {request.cart_id[:8]}",
                    groupall=groupall,
                )
            )
    return stages


def wait_for_stages(
    reads: CatalogReads,
    transaction_ids: Sequence[str],
    user: str,
    timeout_s: float,
    poll_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, StageOutcome] | None:
    """Every stage's outcome once all have finished; None if they did not in time."""
    deadline = time.monotonic() + timeout_s
    while True:
        done = reads.finished_stages(transaction_ids, user)
        if len(done) == len(set(transaction_ids)):
            return done
        if time.monotonic() > deadline:
            return None
        sleep(poll_s)


def recall_failed_message(results: dict[str, StageOutcome] | None, timeout_s: float) -> str:
    """Why a cart's files are still only on tape after its stages."""
    if results is None:
        return f"only on tape: the recall did not finish within {timeout_s:g} s"
    failures = {p: r for outcome in results.values() for p, r in outcome.failures.items()}
    if not failures:
        return "only on tape: the recall ended but some files are not in the cache"
    path, reason = next(iter(sorted(failures.items())))
    shown = path.decode("utf-8", "backslashreplace")
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    return f"only on tape: {shown} could not be recalled: {reason}{more}"
