"""``GET /history``: every event that touched one of the caller's holdings,
transactions or paths, read from the log (only the caller's own events)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from confluent_kafka import KafkaException
from fastapi import APIRouter
from fastapi import Query as Param
from pydantic import BaseModel

from api.deps import CurrentUser, ServicesDep
from api.errors import ApiError
from api.paths import path_from_b64
from api.v1.models import ProgressOut
from nearline.history import Entry, Query, history

router = APIRouter(tags=["history"])


class HistoryEntry(BaseModel):
    time: str
    """ISO 8601, UTC, milliseconds."""
    occurred_at: int
    """Epoch milliseconds."""
    event_type: str
    topic: str
    actor: str
    """The user on whose behalf the event happened."""
    transaction_id: str
    event_id: str
    cause_id: str | None
    holding_id: int | None
    state: str | None
    progress: ProgressOut | None = None
    """A sub-batch's files and bytes done out of totals, when the event tells them."""


class History(BaseModel):
    events: list[HistoryEntry]


def _entry(entry: Entry) -> HistoryEntry:
    event = entry.event
    when = datetime.fromtimestamp(entry.occurred_at / 1000, UTC)
    return HistoryEntry(
        time=when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        occurred_at=entry.occurred_at,
        event_type=entry.event_type,
        topic=entry.topic,
        actor=event.user,
        transaction_id=event.transaction_id,
        event_id=event.event_id,
        cause_id=event.cause_id,
        holding_id=getattr(event, "holding_id", None),
        state=getattr(event, "state", None),
        progress=_progress(event),
    )


def _progress(event: object) -> ProgressOut | None:
    figures = getattr(event, "progress", None)
    if figures is None:
        return None
    return ProgressOut(state=getattr(event, "state", None), **figures)


@router.get("/history")
def get_history(
    identity: CurrentUser,
    services: ServicesDep,
    holding_id: int | None = None,
    transaction_id: str | None = None,
    path: str | None = None,
    path_b64: Annotated[str | None, Param(description="a path as base64 of its bytes")] = None,
) -> History:
    """The caller's events about a holding, a transaction or a path, oldest first.
    Another user's holding or transaction has no history for the caller."""
    if path is not None and path_b64 is not None:
        raise ApiError(400, "Give path or path_b64, not both.", ["query", "path_b64"])
    exact = path.encode("utf-8", "surrogateescape") if path is not None else None
    if path_b64 is not None:
        try:
            exact = path_from_b64(path_b64)
        except ValueError as error:
            raise ApiError(400, str(error), ["query", "path_b64"]) from None
    if holding_id is None and transaction_id is None and exact is None:
        raise ApiError(
            400, "Give holding_id, transaction_id or path (or path_b64).", ["query", "holding_id"]
        )
    query = Query(
        holding_id=holding_id,
        transaction_id=transaction_id,
        path=exact,
        user=identity.user,
    )
    try:
        entries = history(services.settings, query)
    except KafkaException as error:
        raise ApiError(503, f"The log cannot be read now: {error}.", kind="Unavailable.") from None
    return History(events=[_entry(e) for e in entries])
