"""META decisions: relabel one of the user's own holdings, add, replace or remove tags."""

from __future__ import annotations

from events.catalog import (
    HoldingRelabeled,
    HoldingTagsChanged,
    TransactionAccepted,
    TransactionFinished,
)
from events.requests import MetaRequested
from processors.catalog.emitting import Context, Emitter
from processors.catalog.fold_selection import own_holdings
from processors.catalog.state import CatalogState, Holding


def meta(ctx: Context, request: MetaRequested, emit: Emitter) -> None:
    """Change the selected holdings' label and tags, and finish at once."""
    state = ctx.state
    transaction = state.transactions.get(request.transaction_id)
    if transaction is not None and transaction.finished:
        return
    holdings = own_holdings(state, request.user, request.label, request.holding_id, request.tags)
    if transaction is None:
        reason = _refusal(state, request, holdings)
        if reason is not None:
            emit.reject(request, "meta", reason)
            return
        emit.fact(
            TransactionAccepted(
                **emit.envelope(request, "accepted"),
                api_action="meta",
                job_label=request.job_label,
                holding_id=None,
                label=None,
            ),
        )
    # Facts already applied (a redelivery after a crash) change nothing when re-sent.
    for holding in holdings:
        if request.new_label is not None and holding.label != request.new_label:
            emit.fact(
                HoldingRelabeled(
                    **emit.envelope(request, f"relabeled/{holding.id}"),
                    holding_id=holding.id,
                    old_label=holding.label,
                    label=request.new_label,
                ),
            )
        tags = {**holding.tags, **request.add_tags}
        tags = {k: v for k, v in tags.items() if k not in request.remove_tags}
        if tags != holding.tags:
            emit.fact(
                HoldingTagsChanged(
                    **emit.envelope(request, f"tags/{holding.id}"),
                    holding_id=holding.id,
                    tags=tags,
                ),
            )
    emit.fact(
        TransactionFinished(
            **emit.envelope(request, "finished"),
            api_action="meta",
            state="COMPLETE",
            files_ok=0,
            files_failed=0,
            bytes_ok=0,
        ),
    )
    emit.status(request, "COMPLETE", None)


def _refusal(state: CatalogState, request: MetaRequested, holdings: list[Holding]) -> str | None:
    if request.label is None and request.holding_id is None and not request.tags:
        return "Select the holding to change by its label, id or tags."
    if request.new_label is None and not request.add_tags and not request.remove_tags:
        return "Nothing to change: give a new label, tags to add or tag keys to remove."
    if not holdings:
        return (
            "No holding of yours matches the label, id and tags given: only your own "
            "holdings can be changed; list them to check."
        )
    if request.new_label is None:
        return None
    if len(holdings) > 1:
        return (
            f"{len(holdings)} holdings match, and labels are unique: select one holding "
            "(by its id) to relabel."
        )
    taken = state.labels.get((request.user, request.new_label))
    if taken is not None and taken != holdings[0].id:
        return (
            f"The label {request.new_label!r} is taken by your holding {taken}: "
            "choose another label."
        )
    if not request.new_label.strip():
        return "A label cannot be blank."
    return None
