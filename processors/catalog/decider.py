"""The decisions of the catalog decider for one partition's users.

``handle`` takes a request or a worker's report and returns the events to send. It is
pure apart from the clock: given the same state and input it decides the same, with the
same event ids, so a redelivered input re-sends what its first handling sent (consumers
ignore repeats) and finishes what a crash interrupted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from events.base import Event, event_id_for
from events.catalog import (
    CatalogedFile,
    FileFailure,
    FilesCataloged,
    FilesReserved,
    HoldingCreated,
    IndexedFile,
    TransactionAccepted,
    TransactionFinished,
    TransactionRejected,
)
from events.reports import FilesIndexed, FilesRestored, FilesTransferred
from events.requests import GetRequested, PutRequested
from events.status import TransactionStateChanged
from events.topics import CATALOG, INDEX, STATUS, TRANSFER_PUT
from events.work import IndexRequested, TransferItem, TransferPutRequested
from processors.catalog import get
from processors.catalog.state import CatalogState, Transaction
from processors.transfer.object_keys import object_key

ALREADY_EXISTS = "File already exists in holding."


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: bytes
    event: Event


@dataclass(frozen=True)
class Limits:
    """Bounds of one sub-batch: of indexing for a PUT, of restoring for a GET."""

    max_files: int = 1000
    max_bytes: int = 4 * 1024**3


class Decider:
    def __init__(
        self,
        state: CatalogState,
        limits: Limits | None = None,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
        select: get.Selector | None = None,
    ) -> None:
        """``select`` picks a GET's files from the catalog projection (decision D11);
        without it GETs are refused."""
        self.state = state
        self.limits = limits or Limits()
        self.clock = clock
        self.select = select

    def handle(self, event: Event) -> list[Outgoing]:
        match event:
            case PutRequested():
                return self._put(event)
            case FilesIndexed():
                return self._indexed(event)
            case FilesTransferred():
                return self._transferred(event)
            case GetRequested():
                return get.get(self, event)
            case FilesRestored():
                return get.restored(self, event)
        return []

    def refusal(self, event: Event) -> str | None:
        """Why a report cannot belong to this partition's state (so it is dead-lettered
        rather than dropped), or None. A repeat of a settled report is not refused: it
        is a redelivery, and ``handle`` ignores it."""
        if not isinstance(event, FilesIndexed | FilesTransferred):
            return None
        transaction = self.state.transactions.get(event.transaction_id)
        if transaction is None:
            return f"{type(event).__name__} for unknown transaction {event.transaction_id}"
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

    # -- PUT ---------------------------------------------------------------------------

    def _put(self, request: PutRequested) -> list[Outgoing]:
        out: list[Outgoing] = []
        transaction = self.state.transactions.get(request.transaction_id)
        if transaction is None:
            holding_id, reason = self._holding_for(request, out)
            if reason is not None:
                self._fact(
                    out,
                    TransactionRejected(
                        **self._envelope(request, "rejected"),
                        api_action=request.api_action,
                        job_label=request.job_label,
                        reason=reason,
                    ),
                )
                self._status(out, request, "FAILED", None, warnings=[reason])
                return out
            self._fact(
                out,
                TransactionAccepted(
                    **self._envelope(request, "accepted"),
                    api_action=request.api_action,
                    job_label=request.job_label,
                    holding_id=holding_id,
                    label=self.state.holdings[holding_id].label if holding_id else None,
                ),
            )
            transaction = self.state.transactions[request.transaction_id]
        if transaction.finished or transaction.holding_id is None:
            return out
        out.append(
            Outgoing(
                INDEX,
                request.transaction_id.encode(),
                IndexRequested(
                    **self._envelope(request, "index"),
                    holding_id=transaction.holding_id,
                    paths=list(request.paths),
                    path_list_file=request.path_list_file,
                    max_files=self.limits.max_files,
                    max_bytes=self.limits.max_bytes,
                ),
            )
        )
        self._status(out, request, "INDEXING", None)
        return out

    def _holding_for(self, request: PutRequested, out: list[Outgoing]) -> tuple[int, str | None]:
        """The holding a PUT goes into, created if new; or the reason it cannot go."""
        state = self.state
        by_label = state.labels.get((request.user, request.label)) if request.label else None
        if request.holding_id is not None:
            holding = state.holdings.get(request.holding_id)
            if holding is None or not self._may_write(holding.user, holding.group, request):
                return 0, f"Holding {request.holding_id} does not exist or is not yours."
            if request.label and request.label != holding.label:
                return 0, (
                    f"Holding {request.holding_id} is labelled {holding.label!r}, not "
                    f"{request.label!r}: give the id or the label, or both matching."
                )
            return holding.id, None
        if by_label is not None:
            return by_label, None
        label = request.label or request.transaction_id[:8]
        if (request.user, label) in state.labels:
            return state.labels[(request.user, label)], None
        holding_id = state.next_holding_id()
        self._fact(
            out,
            HoldingCreated(
                **self._envelope(request, "holding"),
                holding_id=holding_id,
                label=label,
                tags=dict(request.tags),
            ),
        )
        return holding_id, None

    @staticmethod
    def _may_write(owner: str, group: str, request: Event) -> bool:
        return owner == request.user or group == request.group

    # -- indexing results --------------------------------------------------------------

    def _indexed(self, report: FilesIndexed) -> list[Outgoing]:
        out: list[Outgoing] = []
        transaction = self.state.transactions.get(report.transaction_id)
        if transaction is None or transaction.finished or transaction.holding_id is None:
            return out
        batch = report.sub_batch
        if batch not in transaction.indexed:
            accepted: list[IndexedFile] = []
            refused: list[FileFailure] = [
                FileFailure(path=r["path"], reason=r["reason"], retryable=False)
                for r in report.rejected
            ]
            seen: set[bytes] = set()
            for entry in report.files:
                existing = self.state.files.get((transaction.holding_id, entry["path"]))
                if entry["path"] in seen:
                    continue
                seen.add(entry["path"])
                if existing is not None and existing.transaction_id != report.transaction_id:
                    refused.append(
                        FileFailure(path=entry["path"], reason=ALREADY_EXISTS, retryable=False)
                    )
                elif existing is None:
                    accepted.append(entry)
            self._fact(
                out,
                FilesReserved(
                    **self._envelope(report, f"reserved/{batch}"),
                    holding_id=transaction.holding_id,
                    sub_batch=batch,
                    last=report.last,
                    files=accepted,
                    refused=refused,
                ),
            )
        reserved = transaction.reserved.get(batch)
        if reserved is not None:
            to_transfer = [
                TransferItem(
                    path=f["path"],
                    size=f["size"],
                    mtime_ns=f["mtime_ns"],
                    object_key=object_key(reserved.holding_id, report.transaction_id, f["path"]),
                )
                for f in reserved.files
                if f["path_type"] == "FILE"
            ]
            if to_transfer:
                out.append(
                    Outgoing(
                        TRANSFER_PUT,
                        report.transaction_id.encode(),
                        TransferPutRequested(
                            **self._envelope(report, f"transfer-put/{batch}"),
                            holding_id=reserved.holding_id,
                            sub_batch=batch,
                            files=to_transfer,
                        ),
                    )
                )
                self._status(out, report, "TRANSFER_PUTTING", batch)
            else:  # only directories and links: nothing to upload
                self._catalog(out, report, transaction, batch, [], [])
        return out + self._finish_if_complete(report, transaction)

    # -- transfer results --------------------------------------------------------------

    def _transferred(self, report: FilesTransferred) -> list[Outgoing]:
        out: list[Outgoing] = []
        transaction = self.state.transactions.get(report.transaction_id)
        if transaction is None or transaction.finished:
            return out
        if report.sub_batch in transaction.reserved:
            self._catalog(
                out, report, transaction, report.sub_batch, list(report.stored), list(report.failed)
            )
        return out + self._finish_if_complete(report, transaction)

    def _catalog(
        self,
        out: list[Outgoing],
        cause: Event,
        transaction: Transaction,
        batch: int,
        stored: list,
        failed: list[FileFailure],
    ) -> None:
        reserved = transaction.reserved[batch]
        objects = {s["path"]: s for s in stored}
        failed_paths = {f["path"] for f in failed}
        files: list[CatalogedFile] = []
        for entry in reserved.files:
            if entry["path"] in failed_paths:
                continue
            obj = objects.get(entry["path"])
            if entry["path_type"] == "FILE" and obj is None:
                failed.append(
                    FileFailure(
                        path=entry["path"],
                        retryable=False,
                        reason="transfer reported no result for this file",
                    )
                )
                continue
            files.append(
                CatalogedFile(
                    **entry,
                    object_key=obj["object_key"] if obj else None,
                    adler32=obj["adler32"] if obj else None,
                    sha256=obj["sha256"] if obj else None,
                )
            )
        self._fact(
            out,
            FilesCataloged(
                **self._envelope(cause, f"cataloged/{batch}"),
                holding_id=reserved.holding_id,
                sub_batch=batch,
                files=files,
                failed=failed,
            ),
        )
        failures = list(reserved.refused) + failed
        state = (
            "FAILED"
            if failures and not files
            else ("COMPLETE_WITH_ERRORS" if failures else "COMPLETE")
        )
        self._status(out, cause, state, batch, failures=failures)

    def _finish_if_complete(self, cause: Event, transaction: Transaction) -> list[Outgoing]:
        out: list[Outgoing] = []
        if transaction.finished or not transaction.complete():
            return out
        if transaction.files_ok == 0:
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
    ) -> None:
        """A state change of the transaction (batch None) or of one of its sub-batches."""
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
                ),
            )
        )
