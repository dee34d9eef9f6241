"""What every decision of the catalog decider is given: the ``Context`` it decides in
(the fold, the limits and the ports) and the ``Emitter`` that collects what it decides.

Each decision is one function ``decide(ctx, event, emit)`` (the decider's table maps an
event type to it, decision D143). ``emit`` is the one way a decision records anything:
a fact (applied to the fold at once, write through, and sent to the catalog topic), a
work item, or a change of a transaction's status; ``emit.out`` is what the decider then
sends, in the order emitted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from events.base import Event, event_id_for
from events.catalog import FileFailure, TransactionFinished, TransactionRejected
from events.status import SubBatchProgress, TransactionStateChanged
from events.topics import CATALOG, STATUS
from processors.catalog.outgoing import Outgoing
from processors.catalog.ports import Selector
from processors.catalog.quotas import Quotas
from processors.catalog.state import CatalogState, Transaction


@dataclass(frozen=True)
class Limits:
    """Bounds of one sub-batch: of indexing for a PUT, of restoring for a GET (and of one
    deletion batch's file count)."""

    max_files: int = 1000
    max_bytes: int = 4 * 1024**3


@dataclass(frozen=True)
class Context:
    """What a decision decides from: the partition's fold, the sub-batch limits, and the
    ports to the read model (D140): the quotas' usage, and ``select``, which picks a GET's
    files from the catalog projection (D11; without it GETs are refused)."""

    state: CatalogState
    limits: Limits
    quotas: Quotas
    select: Selector | None


class Emitter:
    """Collects the events one decision sends, in order (``out``)."""

    def __init__(self, state: CatalogState, clock: Callable[[], int]) -> None:
        self.state = state
        self.clock = clock
        self.out: list[Outgoing] = []

    def envelope(self, cause: Event, step: str) -> dict:
        """The envelope of the event a decision makes at ``step`` of the transaction of
        ``cause``: its id depends on the transaction and the step only (D8)."""
        return {
            "event_id": event_id_for(cause.transaction_id, step),
            "transaction_id": cause.transaction_id,
            "user": cause.user,
            "group": cause.group,
            "cause_id": cause.event_id,
            "occurred_at": self.clock(),
        }

    def fact(self, fact: Event) -> None:
        """Record a catalog fact: folded at once, then sent to the catalog topic."""
        self.state.apply(fact)
        self.out.append(Outgoing(CATALOG, fact.user.encode(), fact))

    def send(self, topic: str, key: bytes, event: Event) -> None:
        """Send work (or an event already folded) as it is."""
        self.out.append(Outgoing(topic, key, event))

    def status(
        self,
        cause: Event,
        state: str,
        batch: int | None,
        failures: list[FileFailure] | None = None,
        warnings: list[str] | None = None,
        progress: SubBatchProgress | None = None,
    ) -> None:
        """A state change of the transaction (batch None) or of one of its sub-batches;
        ``progress``: the totals of the step the sub-batch begins (D132)."""
        transaction = self.state.transactions.get(cause.transaction_id)
        holding = self.state.holdings.get(transaction.holding_id or 0) if transaction else None
        sub = "-" if batch is None else str(batch)
        self.send(
            STATUS,
            cause.transaction_id.encode(),
            TransactionStateChanged(
                **self.envelope(cause, f"status/{sub}/{state}"),
                api_action=transaction.api_action
                if transaction
                else getattr(cause, "api_action", ""),
                job_label=transaction.job_label if transaction else getattr(cause, "job_label", ""),
                label=holding.label if holding else None,
                holding_id=holding.id if holding else None,
                sub_id=batch,
                state=state,
                failures=failures or [],
                warnings=warnings or [],
                retries=0,
                progress=progress,
            ),
        )

    def reject(self, request: Event, api_action: str, reason: str) -> None:
        """Refuse a request before any work began, saying why."""
        self.fact(
            TransactionRejected(
                **self.envelope(request, "rejected"),
                api_action=api_action,
                job_label=getattr(request, "job_label", ""),
                reason=reason,
            ),
        )
        self.status(request, "FAILED", None, warnings=[reason])

    def finish_if_complete(self, cause: Event, transaction: Transaction) -> None:
        """Finish the transaction once every sub-batch of it has settled."""
        if transaction.finished or not transaction.complete():
            return
        if transaction.files_ok == 0 and not transaction.holdings_deleted:
            state = "FAILED"
        elif transaction.files_failed:
            state = "COMPLETE_WITH_ERRORS"
        else:
            state = "COMPLETE"
        self.fact(
            TransactionFinished(
                **self.envelope(cause, "finished"),
                api_action=transaction.api_action,
                state=state,
                files_ok=transaction.files_ok,
                files_failed=transaction.files_failed,
                bytes_ok=transaction.bytes_ok,
            ),
        )
        self.status(cause, state, None)
