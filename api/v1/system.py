"""``GET /system/lag``: consumer-group lag and liveness per processor and partition, read
from Kafka. Any authenticated user may read it: it names processors, never users."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentUser, ServicesDep
from api.errors import ApiError
from nearline.observe.lag import group_states

router = APIRouter(tags=["system"])


@router.get("/system/lag")
async def lag(_identity: CurrentUser, services: ServicesDep) -> dict[str, Any]:
    try:
        states = await run_in_threadpool(group_states, services.settings)
    except Exception as error:
        raise ApiError(503, f"Cannot read Kafka now: {error}.", kind="Unavailable.") from None
    return {
        "total_lag": sum(s.lag for s in states),
        "processors": [s.as_dict() for s in states],
    }
