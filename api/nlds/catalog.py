"""NLDS ``catalog/``: list holdings, find files, change a holding's label or tags."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from api import commands
from api.deps import NldsCaller, NldsCallerDep, RequestLogDep, ServicesDep, SessionDep
from api.inputs import DbInt
from api.nlds import render
from api.nlds.wire import MetaChanges, accepted, tags_of
from api.paths import path_from_text
from api.queries.holdings import list_holdings
from api.shown import outcome_shown
from projections.queries.files import find_files
from projections.queries.filters import HoldingSelector, parse_tags

router = APIRouter(prefix="/catalog", tags=["catalog"])

TagQuery = Annotated[str | None, Query(description="tags as k:v,k2:v2; all must match")]
Limit = Annotated[DbInt | None, Query(ge=1)]


@router.get("/list/", status_code=202)
def list_(
    caller: NldsCallerDep,
    conn: SessionDep,
    groupall: bool = False,
    label: str | None = None,
    holding_id: DbInt | None = None,
    transaction_id: str | None = None,
    tag: TagQuery = None,
    regex: Annotated[bool, Query(description="label is a regular expression")] = False,
    limit: Limit = None,
    descending: bool = False,
) -> JSONResponse:
    """The holdings of the user (or, with groupall, of their group)."""
    selector = HoldingSelector(label, regex, holding_id, transaction_id, parse_tags(tag or ""))
    holdings = list_holdings(conn, caller.scope(groupall), selector, limit, descending)
    body = _reply(caller, "list", {"holdings": [render.holding(h) for h in holdings]})
    if not holdings:
        body["details"]["failure"] = (
            "No holdings found: check the label, id, transaction id and tags, or put files."
        )
    return accepted(body)


@router.get("/find/", status_code=202)
def find(
    caller: NldsCallerDep,
    conn: SessionDep,
    services: ServicesDep,
    groupall: bool = False,
    label: str | None = None,
    holding_id: DbInt | None = None,
    transaction_id: str | None = None,
    tag: TagQuery = None,
    path: str | None = None,
    regex: Annotated[bool, Query(description="path and label are regular expressions")] = False,
    limit: Limit = None,
    descending: bool = False,
) -> JSONResponse:
    """Files of the user's (or group's) holdings, with their locations and checksums."""
    selector = HoldingSelector(label, regex, holding_id, transaction_id, parse_tags(tag or ""))
    found = find_files(
        conn,
        caller.scope(groupall),
        selector,
        path=path_from_text(path) if path is not None and not regex else None,
        regex=path if regex else None,
        limit=limit,
        descending=descending,
    )
    holdings = render.found_files(found, services.settings.s3.endpoint_url)
    body = _reply(caller, "find", {"holdings": holdings})
    if not found:
        body["details"]["failure"] = (
            "No files found: check the path (use regex for patterns), label, id and tags."
        )
    return accepted(body)


@router.post("/meta/", status_code=202)
def meta(
    caller: NldsCallerDep,
    conn: SessionDep,
    log: RequestLogDep,
    services: ServicesDep,
    body: Annotated[MetaChanges, Body()],
    label: str | None = None,
    holding_id: DbInt | None = None,
    tag: TagQuery = None,
) -> JSONResponse:
    """Relabel a holding of the user's, or add or remove its tags. As in NLDS, the reply
    comes once the change is made: once ``list`` and ``find`` show it."""
    remove = body.del_tag if isinstance(body.del_tag, list) else list(tags_of(body.del_tag))
    selector = HoldingSelector(label, holding_id=holding_id, tags=parse_tags(tag or ""))
    event, changes = commands.meta(
        log,
        conn,
        caller.scope(),
        selector,
        new_label=body.new_label,
        add_tags=tags_of(body.new_tag),
        remove_tags=remove,
    )
    data = {
        "holdings": [
            {
                "id": c.holding.id,
                "user": c.holding.user,
                "group": c.holding.group,
                "old_meta": {"label": c.holding.label, "tags": c.holding.tags},
                "new_meta": {"label": c.new_label, "tags": c.new_tags},
            }
            for c in changes
        ]
    }
    body_out = _reply(caller, "meta", data)
    body_out["transaction_id"] = event.transaction_id
    body_out["msg"] = f"META transaction with id {event.transaction_id} accepted for processing."
    outcome = outcome_shown(conn, event, services.settings.api.read_your_writes_s)
    if outcome is None:
        body_out["details"]["failure"] = (
            f"The change is recorded (transaction {event.transaction_id}) but not made yet: "
            f"follow it with nlds stat -n {event.transaction_id}."
        )
    elif outcome.state == "FAILED":
        body_out["details"]["failure"] = " ".join(outcome.warnings) or "The change failed."
    return accepted(body_out)


def _reply(caller: NldsCaller, api_action: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "details": {"user": caller.identity.user, "group": caller.group, "api_action": api_action},
        "data": data,
    }
