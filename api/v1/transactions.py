"""``/transactions``: the state of your (or your group's) requests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ReadScopeDep, SessionDep
from api.errors import ApiError
from api.inputs import DbInt, SubBatchInt
from api.queries.transactions import StatFilter, find_transactions
from api.v1 import render
from api.v1.models import ErrorOut, TransactionList, TransactionOut
from api.v1.params import Limit
from domain.queries import InvalidQuery
from domain.states import parse_state

router = APIRouter(prefix="/transactions", tags=["transactions"])

Names = Annotated[list[str], Query()]


@router.get("", responses={400: {"model": ErrorOut}})
def list_(
    conn: SessionDep,
    scope: ReadScopeDep,
    id: DbInt | None = None,
    transaction_id: str | None = None,
    job_label: str | None = None,
    job_label_regex: bool = False,
    api_action: Names = [],  # noqa: B006 (FastAPI copies defaults)
    exclude_api_action: Names = [],  # noqa: B006
    state: Annotated[list[str], Query(description="names or values, e.g. FAILED or 101")] = [],  # noqa: B006
    sub_id: SubBatchInt | None = None,
    limit: Limit = 1000,
    descending: bool = False,
) -> TransactionList:
    """Transactions in the order they began (newest first with descending)."""
    try:
        states = [parse_state(s) for s in state]
    except ValueError as error:
        raise InvalidQuery(str(error)) from None
    wanted = StatFilter(
        id=id,
        transaction_id=transaction_id,
        job_label=job_label,
        job_label_regex=job_label_regex,
        api_actions=api_action,
        exclude_api_actions=exclude_api_action,
        states=states,
        sub_id=sub_id,
    )
    found = find_transactions(conn, scope, wanted, limit, descending)
    return TransactionList(transactions=[render.transaction(tx) for tx in found])


@router.get("/{transaction_id}", responses={404: {"model": ErrorOut}})
def show(conn: SessionDep, scope: ReadScopeDep, transaction_id: str) -> TransactionOut:
    """One transaction you can see."""
    found = find_transactions(conn, scope, StatFilter(transaction_id=transaction_id))
    if not found:
        raise ApiError(
            404,
            f"You have no transaction {transaction_id} (yet: a request shows here a moment "
            "after it is accepted; add groupall=true for your group's).",
            ["path", "transaction_id"],
        )
    return render.transaction(found[0])
