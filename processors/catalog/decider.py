"""The decisions of the catalog decider for one partition's users.

``handle`` takes a request or a worker's report and returns the events to send. It is
pure apart from the clock: given the same state and input it decides the same, with the
same event ids, so a redelivered input re-sends what its first handling sent (consumers
ignore repeats) and finishes what a crash interrupted. (Group and tape quotas read the
projection: see ``quotas``; a redelivered input is never decided twice, so the state
stays a fold of the log.)

Every decision has one shape (decision D143): ``decide(ctx, event, emit)``, where ``ctx``
is the partition's fold with the limits and ports (``emitting.Context``) and ``emit``
collects the facts, work and status it sends (``emitting.Emitter``). ``DECISIONS`` maps
each event type to its decision, one module per verb: PUT in ``put`` and ``transfer``,
bytes uploaded over HTTP in ``upload``, DELETE in ``deleting``, META in ``relabeling``,
GET and STAGE in ``get`` (planned in ``planning``, moved on in ``settling``, finished in
``finishing``) and ``recalling``, archive in ``archive`` and eviction in ``eviction``.
Here only what comes before any of them: a request that reuses another user's
transaction id is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from events.base import Event
from events.catalog import TransactionRejected
from events.reports import (
    AggregateArchived,
    AggregateOnline,
    AggregateRecalled,
    CacheCopiesRemoved,
    FilesIndexed,
    FilesRestored,
    FilesTransferred,
    ObjectsDeleted,
)
from events.requests import (
    ArchiveRequested,
    DeleteRequested,
    GetRequested,
    MetaRequested,
    PutRequested,
    StageRequested,
    UploadRequested,
)
from events.status import TransactionStateChanged
from events.topics import STATUS
from processors.catalog import (
    archive,
    deleting,
    eviction,
    get,
    put,
    recalling,
    relabeling,
    transfer,
    upload,
)
from processors.catalog.emitting import Context, Emitter, Limits
from processors.catalog.outgoing import Outgoing
from processors.catalog.ports import Selector
from processors.catalog.quotas import Quotas
from processors.catalog.state import CatalogState

__all__ = ["DECISIONS", "ID_TAKEN", "Decider", "Limits", "Outgoing"]

ID_TAKEN = (
    "This transaction id belongs to another user's request: leave transaction_id out "
    "and one is made for you."
)

USER_REQUESTS = (
    PutRequested,
    GetRequested,
    StageRequested,
    DeleteRequested,
    MetaRequested,
    UploadRequested,
)

Decide = Callable[[Context, Any, Emitter], None]
"""A decision: ``decide(ctx, event, emit)``, its event of the type it is registered for."""

DECISIONS: dict[type[Event], Decide] = {
    PutRequested: put.put,
    FilesIndexed: put.indexed,
    FilesTransferred: transfer.transferred,
    UploadRequested: upload.upload,
    DeleteRequested: deleting.delete,
    ObjectsDeleted: deleting.objects_deleted,
    MetaRequested: relabeling.meta,
    GetRequested: get.get,
    FilesRestored: get.restored,
    StageRequested: get.stage,
    AggregateRecalled: recalling.recalled,
    AggregateOnline: recalling.online,
    ArchiveRequested: archive.schedule,
    AggregateArchived: archive.archived,
    CacheCopiesRemoved: eviction.evicted,
}
"""The decision of each input type; an input of any other type decides nothing."""


class Decider:
    def __init__(
        self,
        state: CatalogState,
        limits: Limits | None = None,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
        quotas: Quotas | None = None,
        select: Selector | None = None,
    ) -> None:
        """``select`` picks a GET's files from the catalog projection (decision D11);
        without it GETs are refused."""
        self.context = Context(state, limits or Limits(), quotas or Quotas(), select)
        self.clock = clock

    @property
    def state(self) -> CatalogState:
        return self.context.state

    def handle(self, event: Event) -> list[Outgoing]:
        emit = Emitter(self.state, self.clock)
        if isinstance(event, USER_REQUESTS) and _taken(self.state, event):
            _refuse_taken(event, emit)
        else:
            decide = DECISIONS.get(type(event))
            if decide is not None:
                decide(self.context, event, emit)
        return emit.out

    def refusal(self, event: Event) -> str | None:
        """Why a report cannot belong to this partition's state (so it is dead-lettered
        rather than dropped), or None. A repeat of a settled report is not refused: it
        is a redelivery, and ``handle`` ignores it."""
        if not isinstance(event, FilesIndexed | FilesTransferred):
            return None
        transaction = self.state.transactions.get(event.transaction_id)
        if transaction is None:
            return f"{type(event).__name__} for unknown transaction {event.transaction_id}"
        if event.user != transaction.user:
            return (
                f"{type(event).__name__} of {event.user} for transaction "
                f"{event.transaction_id}, which is {transaction.user}'s"
            )
        if (
            isinstance(event, FilesTransferred)
            and not transaction.finished
            and event.sub_batch not in transaction.indexed
        ):
            return (
                f"FilesTransferred for sub-batch {event.sub_batch} of "
                f"{event.transaction_id}, which was never reserved"
            )
        return None


# -- transaction ids -------------------------------------------------------------------


def _taken(state: CatalogState, request: Event) -> bool:
    """Whether the request reuses the transaction id of another user's transaction.
    A transaction id belongs to the user who first used it (D111): the same id from
    its owner is a redelivery, from anyone else a request that must not touch it."""
    transaction = state.transactions.get(request.transaction_id)
    return transaction is not None and transaction.user != request.user


def _refuse_taken(request: Event, emit: Emitter) -> None:
    """Refuse the request under its own user's name only: its event ids name the user,
    so that they differ from the owner's, and nothing reads the owner's transaction
    (``state.apply`` keeps it as it is)."""
    step = f"taken-by/{request.user}"
    match request:
        case StageRequested():
            api_action = "stage"
        case MetaRequested():
            api_action = "meta"
        case _:
            api_action = getattr(request, "api_action", "")
    job_label = getattr(request, "job_label", "")
    emit.fact(
        TransactionRejected(
            **emit.envelope(request, f"rejected/{step}"),
            api_action=api_action,
            job_label=job_label,
            reason=ID_TAKEN,
        ),
    )
    emit.send(
        STATUS,
        request.transaction_id.encode(),
        TransactionStateChanged(
            **emit.envelope(request, f"status/-/FAILED/{step}"),
            api_action=api_action,
            job_label=job_label,
            label=None,
            holding_id=None,
            sub_id=None,
            state="FAILED",
            failures=[],
            warnings=[ID_TAKEN],
            retries=0,
        ),
    )
