"""``/holdings``: list your (or your group's) holdings, show one, change its label or
tags."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import commands
from api.deps import CurrentUser, ReadScopeDep, RequestLogDep, ServicesDep, SessionDep
from api.errors import ApiError
from api.inputs import DbInt
from api.queries.holdings import list_holdings
from api.shown import outcome_shown
from api.v1 import render
from api.v1.accepted import accepted, options, scope_of
from api.v1.models import ErrorOut, HoldingList, HoldingOut, MetaAccepted, MetaChangeOut, MetaIn
from api.v1.params import Limit, TagsQuery
from projections.queries.filters import HoldingSelector, parse_tag

router = APIRouter(prefix="/holdings", tags=["holdings"])


@router.get("")
def list_(
    conn: SessionDep,
    scope: ReadScopeDep,
    label: str | None = None,
    label_regex: Annotated[bool, Query(description="label is a regular expression")] = False,
    holding_id: DbInt | None = None,
    transaction_id: str | None = None,
    tag: TagsQuery = [],  # noqa: B006 (FastAPI copies defaults)
    limit: Limit = 1000,
    descending: bool = False,
) -> HoldingList:
    """Holdings in id order (newest first with descending)."""
    tags = dict(parse_tag(t) for t in tag)
    selector = HoldingSelector(label, label_regex, holding_id, transaction_id, tags)
    holdings = list_holdings(conn, scope, selector, limit, descending)
    return HoldingList(holdings=[render.holding(h) for h in holdings])


@router.get("/{holding_id}", responses={404: {"model": ErrorOut}})
def show(conn: SessionDep, scope: ReadScopeDep, holding_id: DbInt) -> HoldingOut:
    """One holding you can see."""
    found = list_holdings(conn, scope, HoldingSelector(holding_id=holding_id))
    if not found:
        raise _not_yours(holding_id)
    return render.holding(found[0])


@router.post(
    "/{holding_id}/meta",
    status_code=202,
    responses={404: {"model": ErrorOut}, 400: {"model": ErrorOut}},
)
def change_meta(
    holding_id: DbInt,
    body: MetaIn,
    identity: CurrentUser,
    conn: SessionDep,
    log: RequestLogDep,
    services: ServicesDep,
) -> MetaAccepted:
    """Record a change of one of your holdings' label or tags; the reply shows the
    holding as it is and as it will be, once list shows the change (or past
    ``api.read_your_writes_s``)."""
    try:
        event, changes = commands.meta(
            log,
            conn,
            scope_of(identity, body),
            HoldingSelector(holding_id=holding_id),
            new_label=body.new_label,
            add_tags=body.add_tags,
            remove_tags=body.remove_tags,
            options=options(body),
        )
    except commands.CommandRejected as rejected:
        if rejected.field == "holding":
            raise _not_yours(holding_id) from None
        raise
    outcome_shown(conn, event, services.settings.api.read_your_writes_s)
    return MetaAccepted(
        **accepted(event, "meta", event.job_label).model_dump(),
        changes=[
            MetaChangeOut(
                holding=render.holding(c.holding), new_label=c.new_label, new_tags=c.new_tags
            )
            for c in changes
        ],
    )


def _not_yours(holding_id: int) -> ApiError:
    return ApiError(
        404,
        f"You have no holding {holding_id}: list your holdings to find its id "
        "(add groupall=true to see your group's).",
        ["path", "holding_id"],
    )
