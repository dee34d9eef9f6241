"""``POST /deletes``: delete files from your holdings."""

from __future__ import annotations

from fastapi import APIRouter

from api import commands
from api.deps import CurrentUser, RequestLogDep, ServicesDep, SessionDep
from api.shown import outcome_shown
from api.v1.accepted import accepted, options, scope_of
from api.v1.models import Accepted, DeleteIn, given_path
from projections.queries.filters import HoldingSelector

router = APIRouter(tags=["commands"])


@router.post("/deletes", status_code=202)
def create_delete(
    body: DeleteIn,
    identity: CurrentUser,
    log: RequestLogDep,
    conn: SessionDep,
    services: ServicesDep,
) -> Accepted:
    """Record a DELETE of paths (or a regex's matches) from your own holdings."""
    event = commands.delete(
        log,
        scope_of(identity, body),
        [given_path(p) for p in body.paths],
        HoldingSelector(body.label, holding_id=body.holding_id, tags=body.tags),
        regex=body.regex,
        options=options(body),
    )
    outcome_shown(conn, event, services.settings.api.read_your_writes_s)
    return accepted(event, event.api_action, event.job_label)
