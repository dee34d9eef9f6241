"""``POST /gets``: get files back onto disk."""

from __future__ import annotations

from fastapi import APIRouter

from api import commands
from api.deps import CurrentUser, RequestLogDep, ServicesDep, SessionDep
from api.shown import transaction_shown
from api.v1.accepted import accepted, options, scope_of
from api.v1.models import Accepted, GetIn, given_path
from projections.queries.filters import HoldingSelector

router = APIRouter(tags=["commands"])


@router.post("/gets", status_code=202)
def create_get(
    body: GetIn, identity: CurrentUser, log: RequestLogDep, conn: SessionDep, services: ServicesDep
) -> Accepted:
    """Record a GET of paths (or a regex's matches), the newest versions unless a
    holding is selected; with groupall, from your group's holdings too."""
    event = commands.get(
        log,
        scope_of(identity, body, body.groupall),
        [given_path(p) for p in body.paths],
        HoldingSelector(body.label, holding_id=body.holding_id, tags=body.tags),
        regex=body.regex,
        target=given_path(body.target) if body.target is not None else None,
        overwrite=body.overwrite,
        options=options(body),
    )
    transaction_shown(conn, event, services.settings.api.read_your_writes_s)
    return accepted(event, event.api_action, event.job_label)
