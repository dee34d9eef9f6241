"""``GET /quota``: what you and your group use of the cache and of tape, and the limits."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, ServicesDep, SessionDep
from api.v1.models import QuotaOut, Usage, UsageOut
from domain.access import Scope
from nearline.settings import Quota
from projections.queries import database_errors
from projections.usage import cache_bytes, tape_bytes

router = APIRouter(tags=["quota"])


@router.get("/quota")
def quota(
    identity: CurrentUser, conn: SessionDep, services: ServicesDep, group: str | None = None
) -> QuotaOut:
    """Bytes in use and the quotas (null: unlimited) of you and of your group (default:
    your primary group). Use is the catalog's, which trails new requests by a moment."""
    scope = Scope.of(identity, group or identity.primary_group)
    quotas = services.settings.quotas
    with database_errors():
        mine = _usage(
            identity.user,
            quotas.users.get(identity.user, Quota()),
            cache_bytes(conn, user=identity.user),
            tape_bytes(conn, user=identity.user),
        )
        theirs = None
        if scope.group is not None:
            theirs = _usage(
                scope.group,
                quotas.groups.get(scope.group, Quota()),
                cache_bytes(conn, group=scope.group),
                tape_bytes(conn, group=scope.group),
            )
    return QuotaOut(user=mine, group=theirs)


def _usage(name: str, quota: Quota, cache: int, tape: int) -> UsageOut:
    return UsageOut(
        name=name,
        cache=Usage(used_bytes=cache, limit_bytes=quota.cache_bytes),
        tape=Usage(used_bytes=tape, limit_bytes=quota.tape_bytes),
    )
