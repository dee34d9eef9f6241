"""What every decision of the catalog decider shares: its state, its limits and quotas,
and how it emits facts, work and status."""

from __future__ import annotations

import time
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


class Emitting:
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
        self.state = state
        self.limits = limits or Limits()
        self.clock = clock
        self.quotas = quotas or Quotas()
        self.select = select

    # The public names the decision modules use.
    def envelope(self, cause: Event, step: str) -> dict:
        return self._envelope(cause, step)

    def fact(self, out: list[Outgoing], fact: Event) -> None:
        self._fact(out, fact)

    def _reject(self, out: list[Outgoing], request: Event, api_action: str, reason: str) -> None:
        """Refuse a request before any work began, saying why."""
        self._fact(
            out,
            TransactionRejected(
                **self._envelope(request, "rejected"),
                api_action=api_action,
                job_label=getattr(request, "job_label", ""),
                reason=reason,
            ),
        )
        self._status(out, request, "FAILED", None, warnings=[reason])

    def _finish_if_complete(self, cause: Event, transaction: Transaction) -> list[Outgoing]:
        out: list[Outgoing] = []
        if transaction.finished or not transaction.complete():
            return out
        if transaction.files_ok == 0 and not transaction.holdings_deleted:
            state = "FAILED"
        elif transaction.files_failed:
            state = "COMPLETE_WITH_ERRORS"
        else:
            state = "COMPLETE"
        self._fact(
            out,
            TransactionFinished(
                **self._envelope(cause, "finished"),
                api_action=transaction.api_action,
                state=state,
                files_ok=transaction.files_ok,
                files_failed=transaction.files_failed,
                bytes_ok=transaction.bytes_ok,
            ),
        )
        self._status(out, cause, state, None)
        return out

    # -- emitting ----------------------------------------------------------------------

    def _envelope(self, cause: Event, step: str) -> dict:
        return {
            "event_id": event_id_for(cause.transaction_id, step),
            "transaction_id": cause.transaction_id,
            "user": cause.user,
            "group": cause.group,
            "cause_id": cause.event_id,
            "occurred_at": self.clock(),
        }

    def _fact(self, out: list[Outgoing], fact: Event) -> None:
        self.state.apply(fact)
        out.append(Outgoing(CATALOG, fact.user.encode(), fact))

    def _status(
        self,
        out: list[Outgoing],
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
        out.append(
            Outgoing(
                STATUS,
                cause.transaction_id.encode(),
                TransactionStateChanged(
                    **self._envelope(cause, f"status/{sub}/{state}"),
                    api_action=transaction.api_action
                    if transaction
                    else getattr(cause, "api_action", ""),
                    job_label=transaction.job_label
                    if transaction
                    else getattr(cause, "job_label", ""),
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
        )
