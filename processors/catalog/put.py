"""PUT decisions: accept a PUT into a holding (created if new) and send it to the indexer,
then reserve each indexed sub-batch's paths and send its files to transfer-put (their
report is settled in ``transfer``)."""

from __future__ import annotations

from domain.object_keys import object_key
from events.base import Event
from events.catalog import (
    FileFailure,
    FilesReserved,
    HoldingCreated,
    IndexedFile,
    TransactionAccepted,
)
from events.reports import FilesIndexed
from events.requests import PutRequested
from events.topics import INDEX, TRANSFER_PUT
from events.work import IndexRequested, TransferItem, TransferPutRequested
from processors.catalog import transfer
from processors.catalog.emitting import Context, Emitter
from processors.progress import starting

ALREADY_EXISTS = "File already exists in holding."
HOLDING_GONE = "The holding was deleted while this PUT was indexing."


def put(ctx: Context, request: PutRequested, emit: Emitter) -> None:
    """Accept a new PUT, or re-send what a redelivered one sent; then ask for its index."""
    state = ctx.state
    transaction = state.transactions.get(request.transaction_id)
    if transaction is None:
        reason = ctx.quotas.refusal(
            request.user, request.group, state.cache_bytes.get(request.user, 0), 0
        )
        holding_id = 0
        if reason is None:
            holding_id, reason = _holding_for(ctx, request, emit)
        if reason is not None:
            emit.reject(request, request.api_action, reason)
            return
        emit.fact(
            TransactionAccepted(
                **emit.envelope(request, "accepted"),
                api_action=request.api_action,
                job_label=request.job_label,
                holding_id=holding_id,
                label=state.holdings[holding_id].label if holding_id else None,
            ),
        )
        transaction = state.transactions[request.transaction_id]
    if transaction.finished or transaction.holding_id is None:
        return
    emit.send(
        INDEX,
        request.transaction_id.encode(),
        IndexRequested(
            **emit.envelope(request, "index"),
            holding_id=transaction.holding_id,
            paths=list(request.paths),
            path_list_file=request.path_list_file,
            max_files=ctx.limits.max_files,
            max_bytes=ctx.limits.max_bytes,
        ),
    )
    emit.status(request, "INDEXING", None)


def _holding_for(ctx: Context, request: PutRequested, emit: Emitter) -> tuple[int, str | None]:
    """The holding a PUT goes into, created if new; or the reason it cannot go."""
    state = ctx.state
    by_label = state.labels.get((request.user, request.label)) if request.label else None
    if request.holding_id is not None:
        holding = state.holdings.get(request.holding_id)
        if holding is None or not _may_write(holding.user, request):
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
    emit.fact(
        HoldingCreated(
            **emit.envelope(request, "holding"),
            holding_id=holding_id,
            label=label,
            tags=dict(request.tags),
        ),
    )
    return holding_id, None


def _may_write(owner: str, request: Event) -> bool:
    """Only a holding's owner adds to it: a member of its group may read it (GET with
    groupall), never write into it (D110)."""
    return owner == request.user


def indexed(ctx: Context, report: FilesIndexed, emit: Emitter) -> None:
    """Reserve an indexed sub-batch's new paths (once), and send its files to transfer-put."""
    state = ctx.state
    transaction = state.transactions.get(report.transaction_id)
    if transaction is None or transaction.finished or transaction.holding_id is None:
        return
    batch = report.sub_batch
    if batch not in transaction.indexed:
        accepted: list[IndexedFile] = []
        refused: list[FileFailure] = [
            FileFailure(path=r["path"], reason=r["reason"], retryable=False)
            for r in report.rejected
        ]
        seen: set[bytes] = set()
        gone = transaction.holding_id not in state.holdings
        for entry in report.files if not gone else []:
            existing = state.files.get((transaction.holding_id, entry["path"]))
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
        use = state.cache_bytes.get(report.user, 0)
        reason = ctx.quotas.refusal(report.user, report.group, use, adding) if adding else None
        if reason is not None:  # the sub-batch is refused whole
            refused += [
                FileFailure(path=f["path"], reason=reason, retryable=False) for f in accepted
            ]
            accepted = []
        emit.fact(
            FilesReserved(
                **emit.envelope(report, f"reserved/{batch}"),
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
            emit.send(
                TRANSFER_PUT,
                report.transaction_id.encode(),
                TransferPutRequested(
                    **emit.envelope(report, f"transfer-put/{batch}"),
                    holding_id=reserved.holding_id,
                    sub_batch=batch,
                    files=to_transfer,
                ),
            )
            totals = starting(len(to_transfer), sum(f["size"] for f in to_transfer))
            emit.status(report, "TRANSFER_PUTTING", batch, progress=totals)
        else:  # only directories and links: nothing to upload
            transfer.catalog(report, transaction, batch, [], [], emit)
    emit.finish_if_complete(report, transaction)
