"""What the status page shows, gathered in one place: each processor's liveness and lag,
cache use, the tape queue, and recent failures (dead letters and failed transactions)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from events.topics import DEAD_LETTER
from nearline import bus
from nearline.observe.cache import CacheUsage, cache_usage
from nearline.observe.lag import TAPE_QUEUE_GROUP, GroupState, group_states
from nearline.observe.tail import read
from nearline.settings import Settings
from projections import tables as t

log = logging.getLogger(__name__)

FAILED_STATES = ("FAILED", "COMPLETE_WITH_ERRORS")
KAFKA_PROBE_S = 3.0  # a broker that does not answer this soon is shown as unreachable


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
    failed_transactions: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def system_status(settings: Settings, engine: Engine, recent: int = 10) -> SystemStatus:
    """Each part is read on its own: one unreachable service blanks only its part."""
    status = SystemStatus()
    unreachable = kafka_answers(settings)
    if unreachable:
        status.problems.append(unreachable)
    else:
        _read_kafka_parts(settings, status, recent)
    try:
        status.cache = cache_usage(settings, engine)
        status.failed_transactions = failed_transactions(engine, recent)
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


def failed_transactions(engine: Engine, limit: int) -> list[dict[str, Any]]:
    s = t.status_transactions.c
    query = (
        select(s.transaction_id, s.user, s.api_action, s.state, s.last_updated, s.warnings)
        .where(s.state.in_(FAILED_STATES))
        .order_by(s.last_updated.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
