"""UPLOAD decisions: bytes that arrived over HTTP (the Pacifica archive interface) and
that the API already stored in the cache become one cataloged file, through the same
facts as a PUT (``HoldingCreated``, ``TransactionAccepted``, ``FilesReserved``,
``FilesCataloged``, ``TransactionFinished``), so archive, eviction, recall, replay and
history treat the file as any other. A path the holding has is refused, and the object
the API stored for it is sent to the object deleter: a refused upload leaves nothing
(a small file's pack excepted: see ``_remove_object``).
"""

from __future__ import annotations

import stat

from domain.pack_keys import slice_of
from events.catalog import (
    FileFailure,
    FilesReserved,
    HoldingCreated,
    IndexedFile,
    TransactionAccepted,
)
from events.reports import StoredObject
from events.requests import UploadRequested
from events.topics import DELETE_OBJECTS
from events.work import DeleteObjectsRequested
from processors.catalog import transfer
from processors.catalog.emitting import Context, Emitter
from processors.catalog.put import ALREADY_EXISTS

BATCH = 0  # an upload is one file: one sub-batch, the last
FILE_MODE = stat.S_IFREG | 0o644  # bytes over HTTP have no owner or mode of their own


def upload(ctx: Context, request: UploadRequested, emit: Emitter) -> None:
    """Catalog the uploaded file, or refuse it and have its object deleted; a redelivered
    request re-sends what its first handling sent, with the same ids."""
    state = ctx.state
    transaction = state.transactions.get(request.transaction_id)
    if transaction is None:
        use = state.cache_bytes.get(request.user, 0)
        reason = ctx.quotas.refusal(request.user, request.group, use, request.size)
        if reason is not None:
            emit.reject(request, "put", reason)
            _remove_object(request, 0, emit)
            return
        holding_id = _holding_for(ctx, request, emit)
        emit.fact(
            TransactionAccepted(
                **emit.envelope(request, "accepted"),
                api_action="put",
                job_label=request.job_label,
                holding_id=holding_id,
                label=request.label,
            ),
        )
        transaction = state.transactions[request.transaction_id]
    holding_id = transaction.holding_id or 0
    if transaction.finished or not holding_id:
        if transaction.files_ok == 0:
            _remove_object(request, holding_id, emit)
        return
    if BATCH not in transaction.indexed:
        existing = state.files.get((holding_id, request.path))
        taken = existing is not None and existing.transaction_id != request.transaction_id
        emit.fact(
            FilesReserved(
                **emit.envelope(request, f"reserved/{BATCH}"),
                holding_id=holding_id,
                sub_batch=BATCH,
                last=True,
                files=[] if taken else [_entry(request)],
                refused=[_failure(request.path, ALREADY_EXISTS)] if taken else [],
            ),
        )
    if BATCH in transaction.reserved:
        stored = [
            StoredObject(
                path=request.path,
                object_key=request.object_key,
                size=request.size,
                adler32=request.adler32,
                sha256=request.sha256,
            )
        ]
        reserved = transaction.reserved[BATCH]
        transfer.catalog(request, transaction, BATCH, stored if reserved.files else [], [], emit)
    emit.finish_if_complete(request, transaction)
    if transaction.finished and transaction.files_ok == 0:
        _remove_object(request, holding_id, emit)


def _holding_for(ctx: Context, request: UploadRequested, emit: Emitter) -> int:
    """The user's holding of this label, created on first use."""
    state = ctx.state
    known = state.labels.get((request.user, request.label))
    if known is not None:
        return known
    holding_id = state.next_holding_id()
    emit.fact(
        HoldingCreated(
            **emit.envelope(request, "holding"),
            holding_id=holding_id,
            label=request.label,
            tags={},
        ),
    )
    return holding_id


def _entry(request: UploadRequested) -> IndexedFile:
    return IndexedFile(
        path=request.path,
        path_type="FILE",
        link_path=None,
        size=request.size,
        mode=FILE_MODE,
        uid=0,
        gid=0,
        mtime_ns=request.mtime_ns,
        link_group=None,
    )


def _failure(path: bytes, reason: str) -> FileFailure:
    return FileFailure(path=path, reason=reason, retryable=False)


def _remove_object(request: UploadRequested, holding_id: int, emit: Emitter) -> None:
    """The object of a refused upload is no file's: the object deleter removes it (its
    report settles nothing, as the transaction has finished). A slice of a pack is no
    object: the API that gathered the pack deletes it if none of its files was
    cataloged, and otherwise it goes with its last cataloged slice (D152)."""
    if slice_of(request.object_key) is not None:
        return
    emit.send(
        DELETE_OBJECTS,
        request.transaction_id.encode(),
        DeleteObjectsRequested(
            **emit.envelope(request, "delete-objects/refused"),
            holding_id=holding_id,
            sub_batch=BATCH,
            object_keys=[request.object_key],
        ),
    )
