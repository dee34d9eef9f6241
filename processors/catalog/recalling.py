"""The decider's side of recalls: the catalog fact recording what came back into the
cache (decision D80), after which the sub-batch is fetched (a GET) or settled (a STAGE).

A recall is one sub-batch of a GET or STAGE: members of one aggregate, sent to the recall
worker by ``settling``. The worker is keyed by aggregate and stages each aggregate once,
however many requests want it at the same time (see ``processors.archive_get``).

A GET does not wait for the cache (D231): once the worker reports the aggregate online,
transfer-get restores the sub-batch straight from it, and the members' cache copies are
recorded whenever they come, also after the GET has finished.
"""

from __future__ import annotations

from events.catalog import FilesRecalled
from events.reports import AggregateOnline, AggregateRecalled
from processors.catalog import finishing, settling
from processors.catalog.emitting import Context, Emitter
from processors.catalog.state import CatalogState


def online(ctx: Context, report: AggregateOnline, emit: Emitter) -> None:
    """A GET's aggregate is online: its sub-batch goes to transfer-get to be restored from
    it (its recall was asked for once the GET's directories were in place)."""
    transaction = ctx.state.transactions.get(report.transaction_id)
    if transaction is None or transaction.finished or transaction.api_action == "stage":
        return
    batch = report.sub_batch
    selected = transaction.selected.get(batch)
    recall = transaction.recalls.get(batch)
    if (
        selected is None
        or recall is None
        or recall.aggregate != report.aggregate
        or batch in transaction.recalled
        or batch in transaction.from_tape
    ):
        return
    settling.from_tape(transaction, selected, recall, emit)


def recalled(ctx: Context, report: AggregateRecalled, emit: Emitter) -> None:
    """Record the members the recall worker put back into the cache (``FilesRecalled``),
    then fetch the sub-batch (a GET) or settle it (a STAGE)."""
    state = ctx.state
    transaction = state.transactions.get(report.transaction_id)
    if transaction is None:
        return
    batch = report.sub_batch
    if transaction.finished or batch in transaction.settled:
        # Restored from tape before its members were back in the cache (D231).
        if batch in transaction.recalls and batch not in transaction.recalled:
            fact = files_recalled(state, report, emit)
            emit.fact(fact)
            settling.free_spare_packs(state, report, fact, emit)
        return
    selected = transaction.selected.get(report.sub_batch)
    if selected is None or report.sub_batch not in transaction.recalls:
        return
    if report.sub_batch not in transaction.recalled:
        emit.fact(files_recalled(state, report, emit))
    settling.advance(state, report, transaction, selected, emit, ask_recall=False)
    finishing.finish(ctx, report, transaction, emit, send=True)


def files_recalled(state: CatalogState, report: AggregateRecalled, emit: Emitter) -> FilesRecalled:
    """The catalog fact of a recall: only members the sub-batch asked for count."""
    transaction = state.transactions[report.transaction_id]
    asked = {m["file_id"] for m in transaction.recalls[report.sub_batch].members}
    return FilesRecalled(
        **emit.envelope(report, f"recalled/{report.sub_batch}"),
        sub_batch=report.sub_batch,
        holding_id=report.holding_id,
        aggregate=report.aggregate,
        recalled=[r for r in report.recalled if r["file_id"] in asked],
        failed=[f for f in report.failed if f["file_id"] in asked],
        staged=report.staged,
    )
