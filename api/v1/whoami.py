"""``GET /whoami``: the identity the caller's token proves."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser
from api.v1.models import WhoAmI

router = APIRouter(tags=["auth"])


@router.get("/whoami")
def whoami(identity: CurrentUser) -> WhoAmI:
    return WhoAmI(
        user=identity.user, groups=list(identity.groups), primary_group=identity.primary_group
    )
