"""NLDS ``files/``: PUT (put and putlist), GET (one file or a regex), DELETE (del and
dellist) and ``files/getlist/``, each recorded as a request and answered 202 once
``stat`` shows the transaction (DELETE: once list and find show its outcome), so that
the client's next command sees what it did (``api.shown``)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from api import commands
from api.deps import NldsCaller, NldsCallerDep, RequestLogDep, ServicesDep, SessionDep
from api.inputs import DbInt
from api.nlds.wire import FileList, accepted, lines, tags_of
from api.shown import outcome_shown, transaction_shown
from events.requests import DeleteRequested, GetRequested, PutRequested
from projections.queries.filters import HoldingSelector, parse_tags

router = APIRouter(prefix="/files", tags=["files"])


@router.put("/", status_code=202)
def put(
    caller: NldsCallerDep,
    log: RequestLogDep,
    conn: SessionDep,
    services: ServicesDep,
    transaction_id: UUID,
    body: Annotated[FileList, Body()],
    job_label: str | None = None,
    tenancy: str | None = None,
) -> JSONResponse:
    """Put files into a holding (created if the label is new)."""
    tags = tags_of(body.tag)
    event = commands.put(
        log,
        caller.scope(),
        lines(body.filelist),
        label=body.label,
        holding_id=body.holding_id,
        tags=tags,
        options=commands.Options(job_label, str(transaction_id)),
    )
    transaction_shown(conn, event, services.settings.api.read_your_writes_s)
    selector = HoldingSelector(body.label, holding_id=body.holding_id, tags=tags)
    return accepted(_reply("PUT", event, caller, tenancy, selector))


@router.get("/", status_code=202)
def get(
    caller: NldsCallerDep,
    log: RequestLogDep,
    conn: SessionDep,
    services: ServicesDep,
    transaction_id: UUID,
    filepath: str,
    groupall: bool = False,
    regex: Annotated[bool, Query(description="filepath is a regular expression")] = False,
    target: str | None = None,
    job_label: str | None = None,
    label: str | None = None,
    holding_id: DbInt | None = None,
    tag: Annotated[str | None, Query(description="k:v,k2:v2")] = None,
    tenancy: str | None = None,
) -> JSONResponse:
    """Get one file (the newest version unless a holding is selected), or every file
    whose path matches ``filepath`` when ``regex`` is true."""
    selector = HoldingSelector(label, holding_id=holding_id, tags=parse_tags(tag or ""))
    event = commands.get(
        log,
        caller.scope(groupall),
        [] if regex else lines([filepath]),
        selector,
        regex=filepath if regex else None,
        target=target or None,
        options=commands.Options(job_label, str(transaction_id)),
    )
    transaction_shown(conn, event, services.settings.api.read_your_writes_s)
    return accepted(_reply("GET", event, caller, tenancy, selector) | {"target": target})


@router.put("/getlist/", status_code=202)
def getlist(
    caller: NldsCallerDep,
    log: RequestLogDep,
    conn: SessionDep,
    services: ServicesDep,
    transaction_id: UUID,
    body: Annotated[FileList, Body()],
    groupall: bool = False,
    target: str | None = None,
    job_label: str | None = None,
    tenancy: str | None = None,
) -> JSONResponse:
    """Get a list of files."""
    selector = HoldingSelector(body.label, holding_id=body.holding_id, tags=tags_of(body.tag))
    event = commands.get(
        log,
        caller.scope(groupall),
        lines(body.filelist),
        selector,
        target=target or None,
        options=commands.Options(job_label, str(transaction_id)),
    )
    transaction_shown(conn, event, services.settings.api.read_your_writes_s)
    return accepted(_reply("GET", event, caller, tenancy, selector) | {"target": target})


@router.delete("/", status_code=202)
def delete(
    caller: NldsCallerDep,
    log: RequestLogDep,
    conn: SessionDep,
    services: ServicesDep,
    transaction_id: UUID,
    body: Annotated[FileList, Body()],
    regex: Annotated[bool, Query(description="filelist is one regular expression")] = False,
    job_label: str | None = None,
    tenancy: str | None = None,
) -> JSONResponse:
    """Delete files from the user's own holdings: the filelist's paths, every file whose
    path matches the filelist's one entry when ``regex`` is true, or with an empty
    filelist the whole holdings that label, holding_id and tag select. (NLDS 1.0.0 has
    no delete; this follows its PUT.)"""
    tags = tags_of(body.tag)
    selector = HoldingSelector(body.label, holding_id=body.holding_id, tags=tags)
    if regex and len(body.filelist) != 1:
        raise commands.CommandRejected("With regex, give one regular expression.", "filelist")
    paths = lines(body.filelist)
    if body.filelist and not paths and not regex:
        # An empty filelist deletes whole holdings: a list of blank lines must not.
        raise commands.CommandRejected("The list names no paths.", "filelist")
    event = commands.delete(
        log,
        caller.scope(),
        [] if regex else paths,
        selector,
        regex=body.filelist[0] if regex else None,
        options=commands.Options(job_label, str(transaction_id)),
    )
    # The reply comes once the files are gone from what list and find show.
    outcome_shown(conn, event, services.settings.api.read_your_writes_s)
    return accepted(_reply("DELETE", event, caller, tenancy, selector))


def _reply(
    verb: str,
    event: PutRequested | GetRequested | DeleteRequested,
    caller: NldsCaller,
    tenancy: str | None,
    selector: HoldingSelector,
) -> dict[str, Any]:
    """What NLDS answers to a files request: the request as it was accepted."""
    return {
        "transaction_id": event.transaction_id,
        "msg": f"{verb} transaction with id {event.transaction_id} accepted for processing.",
        "user": caller.identity.user,
        "group": caller.group,
        "api_action": event.api_action,
        "job_label": event.job_label,
        "tenancy": tenancy,
        "label": selector.label,
        "holding_id": selector.holding_id or -1,
        "tag": dict(selector.tags) or None,
    }
