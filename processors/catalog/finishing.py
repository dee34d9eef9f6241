"""The finishing pass of a GET restored in several sub-batches (decision D34).

Such a GET makes its directories first, in sub-batches of their own, so the files
written into them afterwards leave each with the mtime of the last write. Once every
other sub-batch has settled, the directories the GET made (each directory sub-batch's
``FilesRetrieved.created``: never those found existing) go to transfer-get again as
finishing passes, numbered after the planned sub-batches, and the GET finishes only once
those have settled too. A finishing pass settles as a ``FilesRetrieved`` marked
``finishing``, which counts nothing: its directories were counted by their own
sub-batch.
"""

from __future__ import annotations

from events.base import Event
from events.catalog import FilesRetrieved, SelectedFile
from events.reports import FilesRestored
from events.topics import TRANSFER_GET
from events.work import TransferGetRequested
from processors.catalog.emitting import Context, Emitter, Limits
from processors.catalog.planning import sub_batches
from processors.catalog.state import Transaction


def passes(limits: Limits, transaction: Transaction) -> dict[int, list[SelectedFile]]:
    """A GET's finishing passes by sub-batch number: none for a GET of one sub-batch, whose
    worker finished its directories after their contents already."""
    count = transaction.batch_count or 0
    if transaction.api_action == "stage" or count < 2 or not transaction.made:
        return {}
    made = [transaction.made[path] for path in sorted(transaction.made)]
    return {count + n: files for n, files in enumerate(sub_batches(made, limits))}


def finish(
    ctx: Context, cause: Event, transaction: Transaction, emit: Emitter, *, send: bool
) -> None:
    """Finish the GET once every sub-batch has settled, the finishing passes included;
    while some of those are pending, (re-)send them if ``send``."""
    if transaction.finished or not transaction.complete():
        return
    pending = {
        number: files
        for number, files in passes(ctx.limits, transaction).items()
        if number not in transaction.finishing_settled
    }
    if not pending:
        emit.finish_if_complete(cause, transaction)
        return
    for number, files in sorted(pending.items()) if send else ():
        _work(cause, transaction, number, files, emit)


def settle(report: FilesRestored, emit: Emitter) -> None:
    """Record a finishing pass's outcome: the directories finished, and those skipped."""
    emit.fact(
        FilesRetrieved(
            **emit.envelope(report, f"retrieved/{report.sub_batch}"),
            sub_batch=report.sub_batch,
            restored=list(report.restored),
            failed=list(report.failed),
            finishing=True,
        ),
    )


def _work(
    cause: Event, transaction: Transaction, number: int, files: list[SelectedFile], emit: Emitter
) -> None:
    emit.send(
        TRANSFER_GET,
        f"{transaction.transaction_id}/{number}".encode(),
        TransferGetRequested(
            **emit.envelope(cause, f"transfer-get/{number}"),
            sub_batch=number,
            target=transaction.target,
            overwrite=False,
            files=files,
            finishing=True,
        ),
    )
