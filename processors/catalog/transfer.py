"""Transfer-put's results: a sub-batch's reserved files become cataloged, with their
objects, or fail and free their paths (``FilesCataloged``); the PUT finishes once every
sub-batch has settled."""

from __future__ import annotations

from events.base import Event
from events.catalog import CatalogedFile, FileFailure, FilesCataloged
from events.reports import FilesTransferred
from processors.catalog.emitting import Context, Emitter
from processors.catalog.state import Transaction


def transferred(ctx: Context, report: FilesTransferred, emit: Emitter) -> None:
    """Settle the sub-batch a transfer-put worker reports on, and finish the PUT if done."""
    transaction = ctx.state.transactions.get(report.transaction_id)
    if transaction is None or transaction.finished:
        return
    if report.sub_batch in transaction.reserved:
        stored, failed = list(report.stored), list(report.failed)
        catalog(report, transaction, report.sub_batch, stored, failed, emit)
    emit.finish_if_complete(report, transaction)


def catalog(
    cause: Event,
    transaction: Transaction,
    batch: int,
    stored: list,
    failed: list[FileFailure],
    emit: Emitter,
) -> None:
    """Record a reserved sub-batch's outcome: its files ``stored`` and ``failed``; a file
    with neither failed."""
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
    emit.fact(
        FilesCataloged(
            **emit.envelope(cause, f"cataloged/{batch}"),
            holding_id=reserved.holding_id,
            sub_batch=batch,
            files=files,
            failed=failed,
        ),
    )
    failures = list(reserved.refused) + failed
    state = (
        "FAILED" if failures and not files else ("COMPLETE_WITH_ERRORS" if failures else "COMPLETE")
    )
    emit.status(cause, state, batch, failures=failures)
