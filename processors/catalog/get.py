"""The decider's GET and STAGE decisions: accept a GET and plan it, then settle its
sub-batches.

A new GET is planned in ``planning`` (selected through the context's ``select`` port,
decision D11, and recorded as ``FilesSelected`` sub-batches); its sub-batches move on
and settle in ``settling``. A worker's ``FilesRestored`` report settles its sub-batch
(``FilesRetrieved``), and the GET finishes once every sub-batch has. A GET of several
sub-batches restores its directories first, in sub-batches of their own, and sends the
others once those have settled; once all have, a finishing pass gives the directories it
made their mode and mtime again (``finishing``, decision D34). Sub-batches recalled from
tape first settle in ``recalling`` (decision D80). A STAGE is planned the same way and
settles its sub-batches as soon as the files are in the cache.
"""

from __future__ import annotations

from events.reports import FilesRestored
from events.requests import GetRequested, StageRequested
from processors.catalog import finishing, planning, settling
from processors.catalog.emitting import Context, Emitter


def get(ctx: Context, request: GetRequested, emit: Emitter) -> None:
    """Accept and plan a new GET, or re-send what a redelivered one sent."""
    transaction = ctx.state.transactions.get(request.transaction_id)
    if transaction is None:
        reason = planning.plan(ctx, request, emit)
        if reason is not None:
            emit.reject(request, request.api_action, reason)
            return
        transaction = ctx.state.transactions[request.transaction_id]
    if transaction.finished:
        return
    for _, selected in sorted(transaction.selected.items()):
        settling.advance(ctx.state, request, transaction, selected, emit, ask_recall=True)
    finishing.finish(ctx, request, transaction, emit, send=True)


def stage(ctx: Context, request: StageRequested, emit: Emitter) -> None:
    """A STAGE: planned as a GET of the regular files, which settles each sub-batch as
    soon as its files are in the cache (at once for those already there)."""
    get(ctx, as_get(request), emit)


def as_get(request: StageRequested) -> GetRequested:
    """The GET a STAGE selects and plans as (nothing is written to disk)."""
    return GetRequested(
        event_id=request.event_id,
        transaction_id=request.transaction_id,
        user=request.user,
        group=request.group,
        cause_id=request.cause_id,
        occurred_at=request.occurred_at,
        paths=list(request.paths),
        regex=request.regex,
        label=request.label,
        holding_id=request.holding_id,
        tags=dict(request.tags),
        target=None,
        overwrite=False,
        job_label=request.job_label,
        api_action="stage",  # type: ignore[arg-type]
        groupall=request.groupall,
    )


def restored(ctx: Context, report: FilesRestored, emit: Emitter) -> None:
    """Settle the sub-batch a transfer-get worker reports on, and finish the GET if done."""
    state = ctx.state
    transaction = state.transactions.get(report.transaction_id)
    if transaction is None or transaction.finished:
        return
    selected = transaction.selected.get(report.sub_batch)
    finishing_pass = report.sub_batch in finishing.passes(ctx.limits, transaction)
    if selected is not None:
        waiting = not settling.directories_done(transaction.selected)
        done, failed = list(report.restored), list(report.failed)
        settling.settle(state, report, selected, done, failed, emit, list(report.created))
        if waiting and settling.directories_done(transaction.selected):  # the last ones came
            for batch in sorted(transaction.selected.values(), key=lambda s: s.sub_batch):
                settling.advance(state, report, transaction, batch, emit, ask_recall=True)
    elif finishing_pass and report.sub_batch not in transaction.finishing_settled:
        finishing.settle(report, emit)
    # A planned sub-batch's report (again, if redelivered) sends the finishing passes.
    finishing.finish(ctx, report, transaction, emit, send=not finishing_pass)
