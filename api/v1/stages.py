"""``POST /stages``: bring files from tape into the cache, without getting them."""

from __future__ import annotations

from fastapi import APIRouter

from api import commands
from api.deps import CurrentUser, RequestLogDep, ServicesDep, SessionDep
from api.shown import transaction_shown
from api.v1.accepted import accepted, options, scope_of
from api.v1.models import Accepted, StageIn, given_path
from projections.queries.filters import HoldingSelector

router = APIRouter(tags=["commands"])


@router.post("/stages", status_code=202)
def create_stage(
    body: StageIn,
    identity: CurrentUser,
    log: RequestLogDep,
    conn: SessionDep,
    services: ServicesDep,
) -> Accepted:
    """Record a STAGE of paths (or a regex's matches), selected as FIND and GET select
    them: files only on tape are recalled into the cache; FIND then shows both copies."""
    event = commands.stage(
        log,
        scope_of(identity, body, body.groupall),
        [given_path(p) for p in body.paths],
        HoldingSelector(body.label, holding_id=body.holding_id, tags=body.tags),
        regex=body.regex,
        options=options(body),
    )
    transaction_shown(conn, event, services.settings.api.read_your_writes_s)
    return accepted(event, "stage", event.job_label)
