"""The decider's side of recalls: the work item for the recall worker, and the catalog
fact recording what came back into the cache (decision D80).

A recall is one sub-batch of a GET or STAGE: members of one aggregate. The worker is keyed
by aggregate and stages each aggregate once, however many requests want it at the same
time (see ``processors.archive_get``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.catalog import FilesRecalled, RecallScheduled
from events.reports import AggregateRecalled
from events.topics import ARCHIVE_GET
from events.work import RecallRequested
from processors.catalog.outgoing import Outgoing

if TYPE_CHECKING:
    from processors.catalog.decider import Decider


def recall_work(decider: Decider, recall: RecallScheduled) -> Outgoing:
    """The recall of one sub-batch, keyed by its aggregate."""
    batch = recall.sub_batch
    return Outgoing(
        ARCHIVE_GET,
        recall.aggregate.encode(),
        RecallRequested(
            **decider.envelope(recall, f"recall/{batch}"),
            sub_batch=batch,
            holding_id=recall.holding_id,
            aggregate=recall.aggregate,
            members=list(recall.members),
        ),
    )


def files_recalled(decider: Decider, report: AggregateRecalled) -> FilesRecalled:
    """The catalog fact of a recall: only members the sub-batch asked for count."""
    transaction = decider.state.transactions[report.transaction_id]
    asked = {m["file_id"] for m in transaction.recalls[report.sub_batch].members}
    return FilesRecalled(
        **decider.envelope(report, f"recalled/{report.sub_batch}"),
        sub_batch=report.sub_batch,
        holding_id=report.holding_id,
        aggregate=report.aggregate,
        recalled=[r for r in report.recalled if r["file_id"] in asked],
        failed=[f for f in report.failed if f["file_id"] in asked],
        staged=report.staged,
    )
