"""The decisions of the catalog decider for one partition's users.

``handle`` takes a request or a worker's report and returns the events to send. It is
pure apart from the clock: given the same state and input it decides the same, with the
same event ids, so a redelivered input re-sends what its first handling sent (consumers
ignore repeats) and finishes what a crash interrupted. (Group and tape quotas read the
projection: see ``quotas``; a redelivered input is never decided twice, so the state
stays a fold of the log.)

PUT is decided here, GET in ``get``, DELETE in ``deleting``, META in ``relabeling``, and
archive and eviction in ``archive``.
"""

from __future__ import annotations

from domain.object_keys import object_key
from events.base import Event
from events.catalog import (
    CatalogedFile,
    FileFailure,
    FilesCataloged,
    FilesReserved,
    HoldingCreated,
    IndexedFile,
    TransactionAccepted,
    TransactionRejected,
)
from events.reports import (
    AggregateArchived,
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
)
from events.status import TransactionStateChanged
from events.topics import INDEX, STATUS, TRANSFER_PUT
from events.work import IndexRequested, TransferItem, TransferPutRequested
from processors.catalog import archive, get
from processors.catalog.deleting import Deleting
from processors.catalog.emitting import Limits, Outgoing
from processors.catalog.relabeling import Relabeling
from processors.catalog.state import Transaction
from processors.progress import starting

__all__ = ["ALREADY_EXISTS", "HOLDING_GONE", "ID_TAKEN", "Decider", "Limits", "Outgoing"]

ALREADY_EXISTS = "File already exists in holding."
HOLDING_GONE = "The holding was deleted while this PUT was indexing."
ID_TAKEN = (
    "This transaction id belongs to another user's request: leave transaction_id out "
    "and one is made for you."
)

USER_REQUESTS = (PutRequested, GetRequested, StageRequested, DeleteRequested, MetaRequested)


class Decider(Deleting, Relabeling):
    def handle(self, event: Event) -> list[Outgoing]:
        if isinstance(event, USER_REQUESTS) and self._taken(event):
            return self._refuse_taken(event)
        match event:
            case PutRequested():
                return self._put(event)
            case FilesIndexed():
                return self._indexed(event)
            case FilesTransferred():
                return self._transferred(event)
            case DeleteRequested():
                return self._delete(event)
            case ObjectsDeleted():
                return self._objects_deleted(event)
            case MetaRequested():
                return self._meta(event)
            case GetRequested():
                return get.get(self, event)
            case FilesRestored():
                return get.restored(self, event)
            case StageRequested():
                return get.stage(self, event)
            case AggregateRecalled():
                return get.recalled(self, event)
            case ArchiveRequested():
                return archive.schedule(self, event)
            case AggregateArchived():
                return archive.archived(self, event)
            case CacheCopiesRemoved():
                return archive.evicted(self, event)
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

    # -- transaction ids -----------------------------------------------------------------

    def _taken(self, request: Event) -> bool:
        """Whether the request reuses the transaction id of another user's transaction.
        A transaction id belongs to the user who first used it (D111): the same id from
        its owner is a redelivery, from anyone else a request that must not touch it."""
        transaction = self.state.transactions.get(request.transaction_id)
        return transaction is not None and transaction.user != request.user

    def _refuse_taken(self, request: Event) -> list[Outgoing]:
        """Refuse the request under its own user's name only: its event ids name the user,
        so that they differ from the owner's, and nothing reads the owner's transaction
        (``state.apply`` keeps it as it is)."""
        out: list[Outgoing] = []
        step = f"taken-by/{request.user}"
        match request:
            case StageRequested():
                api_action = "stage"
            case MetaRequested():
                api_action = "meta"
            case _:
                api_action = getattr(request, "api_action", "")
        job_label = getattr(request, "job_label", "")
        self._fact(
            out,
            TransactionRejected(
                **self._envelope(request, f"rejected/{step}"),
                api_action=api_action,
                job_label=job_label,
                reason=ID_TAKEN,
            ),
        )
        out.append(
            Outgoing(
                STATUS,
                request.transaction_id.encode(),
                TransactionStateChanged(
                    **self._envelope(request, f"status/-/FAILED/{step}"),
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
        )
        return out

    # -- PUT ---------------------------------------------------------------------------

    def _put(self, request: PutRequested) -> list[Outgoing]:
        out: list[Outgoing] = []
        transaction = self.state.transactions.get(request.transaction_id)
        if transaction is None:
            reason = self.quotas.refusal(
                request.user, request.group, self.state.cache_bytes.get(request.user, 0), 0
            )
            holding_id = 0
            if reason is None:
                holding_id, reason = self._holding_for(request, out)
            if reason is not None:
                self._reject(out, request, request.api_action, reason)
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
            if holding is None or not self._may_write(holding.user, request):
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
    def _may_write(owner: str, request: Event) -> bool:
        """Only a holding's owner adds to it: a member of its group may read it (GET with
        groupall), never write into it (D110)."""
        return owner == request.user

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
            gone = transaction.holding_id not in self.state.holdings
            for entry in report.files if not gone else []:
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
            if gone:
                refused += [
                    FileFailure(path=f["path"], reason=HOLDING_GONE, retryable=False)
                    for f in report.files
                ]
            adding = sum(f["size"] for f in accepted)
            use = self.state.cache_bytes.get(report.user, 0)
            reason = self.quotas.refusal(report.user, report.group, use, adding) if adding else None
            if reason is not None:  # the sub-batch is refused whole
                refused += [
                    FileFailure(path=f["path"], reason=reason, retryable=False) for f in accepted
                ]
                accepted = []
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
                totals = starting(len(to_transfer), sum(f["size"] for f in to_transfer))
                self._status(out, report, "TRANSFER_PUTTING", batch, progress=totals)
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
