"""``GET /history``: every event that touched one of the caller's holdings,
transactions or paths, read from the log (only the caller's own events)."""

from __future__ import annotations

from datetime import UTC, datetime

from confluent_kafka import KafkaException
from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentUser, ServicesDep
from api.errors import ApiError
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
    )


@router.get("/history")
def get_history(
    identity: CurrentUser,
    services: ServicesDep,
    holding_id: int | None = None,
    transaction_id: str | None = None,
    path: str | None = None,
) -> History:
    """The caller's events about a holding, a transaction or a path, oldest first.
    Another user's holding or transaction has no history for the caller."""
    if holding_id is None and transaction_id is None and path is None:
        raise ApiError(400, "Give holding_id, transaction_id or path.", ["query", "holding_id"])
    query = Query(
        holding_id=holding_id,
        transaction_id=transaction_id,
        path=path.encode("utf-8", "surrogateescape") if path is not None else None,
        user=identity.user,
    )
    try:
        entries = history(services.settings, query)
    except KafkaException as error:
        raise ApiError(503, f"The log cannot be read now: {error}.", kind="Unavailable.") from None
    return History(events=[_entry(e) for e in entries])
