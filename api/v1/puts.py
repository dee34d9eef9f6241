"""``POST /puts``: put files from disk into a holding."""

from __future__ import annotations

from fastapi import APIRouter

from api import commands
from api.deps import CurrentUser, RequestLogDep, ServicesDep, SessionDep
from api.shown import transaction_shown
from api.v1.accepted import accepted, options, scope_of
from api.v1.models import Accepted, PutIn, given_path

router = APIRouter(tags=["commands"])


@router.post("/puts", status_code=202)
def create_put(
    body: PutIn, identity: CurrentUser, log: RequestLogDep, conn: SessionDep, services: ServicesDep
) -> Accepted:
    """Record a PUT; follow it at the status URL of the reply."""
    event = commands.put(
        log,
        scope_of(identity, body),
        [given_path(p) for p in body.paths],
        label=body.label,
        holding_id=body.holding_id,
        tags=body.tags,
        options=options(body),
    )
    transaction_shown(conn, event, services.settings.api.read_your_writes_s)
    return accepted(event, event.api_action, event.job_label)
