"""What the status page shows, gathered in one place: each processor's liveness and lag,
cache use, the tape queue, and recent failures (dead letters and failed transactions).

Failed transactions are counted for everyone, and listed only for the caller who is
logged in, and only their own: user names and transaction ids are nobody else's (D114)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select

from api.cache_usage import CacheUsage, cache_usage
from events.topics import DEAD_LETTER
from nearline import bus
from nearline.observe.lag import TAPE_QUEUE_GROUP, GroupState, group_states
from nearline.observe.tail import read
from nearline.settings import Settings
from projections import tables as t

log = logging.getLogger(__name__)

FAILED_STATES = ("FAILED", "COMPLETE_WITH_ERRORS")
KAFKA_PROBE_S = 3.0  # a broker that does not answer this soon is shown as unreachable
FAILED_WINDOW_S = 24 * 3600  # failed transactions are counted over the last day


def kafka_answers(settings: Settings) -> str | None:
    """None if a broker answers at once, else why not: the page is not held up by the
    several Kafka queries it would otherwise wait out one by one."""
    try:
        bus.admin(settings).list_topics(timeout=KAFKA_PROBE_S)
    except Exception as error:
        return f"Kafka unreachable: {type(error).__name__}: {error}"
    return None


@dataclass
class SystemStatus:
    groups: list[GroupState] = field(default_factory=list)
    cache: CacheUsage | None = None
    tape_queue: int | None = None
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    failed_count: int | None = None  # everyone's, over FAILED_WINDOW_S
    failed_transactions: list[dict[str, Any]] = field(default_factory=list)  # the viewer's
    viewer: str | None = None  # who is logged in; None: an anonymous caller
    problems: list[str] = field(default_factory=list)


def system_status(
    settings: Settings, engine: Engine, recent: int = 10, viewer: str | None = None
) -> SystemStatus:
    """Each part is read on its own: one unreachable service blanks only its part.
    ``viewer`` (the logged-in caller) also gets their own recent failed transactions."""
    status = SystemStatus(viewer=viewer)
    unreachable = kafka_answers(settings)
    if unreachable:
        status.problems.append(unreachable)
    else:
        _read_kafka_parts(settings, status, recent)
    try:
        status.cache = cache_usage(settings, engine)
        status.failed_count = failed_count(engine, FAILED_WINDOW_S)
        if viewer is not None:
            status.failed_transactions = failed_transactions(engine, recent, viewer)
    except Exception as error:
        status.problems.append(f"catalog database: {type(error).__name__}")
    return status


def _read_kafka_parts(settings: Settings, status: SystemStatus, recent: int) -> None:
    try:
        status.groups = group_states(settings)
        tape = [g for g in status.groups if g.group == TAPE_QUEUE_GROUP]
        status.tape_queue = (
            tape[0].lag if tape else group_states(settings, [TAPE_QUEUE_GROUP])[0].lag
        )
    except Exception as error:
        status.problems.append(f"Kafka: {type(error).__name__}: {error}")
    try:
        status.dead_letters = [
            {
                "source": "{}[{}]@{}".format(
                    e.get("source_topic"), e.get("source_partition"), e.get("source_offset")
                ),
                "kind": e.get("kind") or r.get("undecodable"),
                "reason": e.get("reason", ""),
                "at": e.get("occurred_at"),
            }
            for r in read(settings, DEAD_LETTER, recent, timeout=5)
            for e in [r.get("event") or {}]
        ]
    except Exception as error:
        status.problems.append(f"dead letters: {type(error).__name__}: {error}")


def failed_count(engine: Engine, window_s: float) -> int:
    """How many transactions failed (wholly or in part) in the last ``window_s``."""
    s = t.status_transactions.c
    since = int((time.time() - window_s) * 1000)
    query = select(func.count()).where(s.state.in_(FAILED_STATES), s.last_updated >= since)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def failed_transactions(engine: Engine, limit: int, user: str) -> list[dict[str, Any]]:
    """The user's own most recent failed transactions."""
    s = t.status_transactions.c
    query = (
        select(s.transaction_id, s.user, s.api_action, s.state, s.last_updated, s.warnings)
        .where(s.state.in_(FAILED_STATES), s.user == user)
        .order_by(s.last_updated.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
