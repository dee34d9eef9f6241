"""The archive sweep's plan: cached files without a tape copy, which the sweeper reads from
the catalog projection through its port (``processors.sweeper.ports``, decision D140),
grouped per holding into aggregates of the target size.

Each aggregate becomes one ``ArchiveRequested`` for the decider, which leaves out files
already archived or in flight (``ArchiveScheduled``); the projection's ``archive_pending``
rows keep the next sweeps from selecting files in flight at all.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from domain.aggregate_names import aggregate_name
from events.base import event_id_for
from events.requests import ArchiveRequested
from events.work import ArchiveMember
from processors.app import now_ms
from stores.tape.aggregate import Member, plan_aggregates

log = logging.getLogger("nearline.archive.sweep")


@dataclass(frozen=True)
class Unarchived:
    """A cached file with no tape copy and none in flight."""

    holding_id: int
    user: str
    group: str
    member: ArchiveMember


def plan(
    files: Sequence[Unarchived], target_bytes: int, max_files: int = 2000
) -> list[ArchiveRequested]:
    """One request per aggregate: the files of each holding grouped by ``plan_aggregates``,
    at most ``max_files`` each (an aggregate's events must fit a Kafka record)."""
    run = uuid.uuid4().hex  # a sweep of its own: a file that failed before may go again
    by_holding: dict[int, list[Unarchived]] = {}
    for item in files:
        by_holding.setdefault(item.holding_id, []).append(item)
    requests: list[ArchiveRequested] = []
    for holding_id, items in sorted(by_holding.items()):
        members, archive_members = [], {}
        for item in items:
            try:
                members.append(_member(item.member))
            except ValueError as error:  # a name no tar can hold: it stays in the cache
                log.error("holding %d: %s", holding_id, error)
                continue
            archive_members[item.member["file_id"]] = item.member
        owner = items[0]
        groups = [
            group[start : start + max_files]
            for group in plan_aggregates(members, target_bytes)
            for start in range(0, len(group), max_files)
        ]
        for group in groups:
            ids = [m.file_id for m in group]
            transaction_id = event_id_for(run, aggregate_name(holding_id, ids))
            requests.append(
                ArchiveRequested(
                    event_id=event_id_for(transaction_id, "archive-requested"),
                    transaction_id=transaction_id,
                    user=owner.user,
                    group=owner.group,
                    cause_id=None,
                    occurred_at=now_ms(),
                    holding_id=holding_id,
                    members=[archive_members[i] for i in ids],
                )
            )
    return requests


def _member(m: ArchiveMember) -> Member:
    return Member(
        m["file_id"],
        m["path"],
        m["object_key"],
        m["size"],
        m["mode"],
        m["mtime_ns"],
        m["sha256"],
        m["adler32"],
    )
