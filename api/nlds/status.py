"""NLDS ``status/``: the state of the user's (or group's) transactions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from api.deps import NldsCallerDep, SessionDep
from api.inputs import DbInt
from api.nlds import render
from api.nlds.wire import StatusFilter, accepted, as_list
from api.queries.transactions import StatFilter, find_transactions
from domain.queries import InvalidQuery
from domain.states import parse_state

router = APIRouter(tags=["status"])


@router.get("/status/", status_code=202)
def status(
    caller: NldsCallerDep,
    conn: SessionDep,
    body: Annotated[StatusFilter | None, Body()] = None,
    groupall: bool = False,
    id: DbInt | None = None,
    transaction_id: str | None = None,
    job_label: str | None = None,
    sub_id: str | None = None,
    regex: Annotated[bool, Query(description="job_label is a regular expression")] = False,
    api_action: Annotated[str | None, Query(description="older clients filter here")] = None,
    state: Annotated[str | None, Query(description="older clients filter here")] = None,
    limit: Annotated[DbInt | None, Query(ge=1)] = None,
    descending: bool = False,
) -> JSONResponse:
    """Transactions with their sub-records; filters in the query or the JSON body."""
    body = body or StatusFilter()
    try:
        states = [parse_state(s) for s in as_list(body.state) + as_list(state)]
    except ValueError as error:
        raise InvalidQuery(str(error)) from None
    wanted = StatFilter(
        id=id,
        transaction_id=transaction_id,
        job_label=job_label,
        job_label_regex=regex,
        api_actions=as_list(body.api_action) + as_list(api_action),
        exclude_api_actions=as_list(body.exclude_api_action),
        states=states,
        sub_id=_sub_id(sub_id),
    )
    found = find_transactions(conn, caller.scope(groupall), wanted, limit, descending)
    details = {"user": caller.identity.user, "group": caller.group, "api_action": "stat"}
    if not found:
        details["failure"] = (
            "No transactions found: check the id, transaction id, job label and state filters."
        )
    records = [render.transaction(tx, only_sub=sub_id is not None) for tx in found]
    return accepted({"details": details, "data": {"records": records}})


def _sub_id(text: str | None) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise InvalidQuery(f"{text!r} is not a sub-record id; they are 0, 1, 2, ...")
    return int(text)
