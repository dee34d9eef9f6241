"""One archive sweep and one eviction pass, as the sweeper process and the operator
commands run them: they read the catalog projection through ``reads``, the port their
wiring gives them (``processors.sweeper.wiring.ProjectionReads``, decision D140)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message, Producer

from events.base import Event, event_id_for
from events.codec import encode
from events.requests import ArchiveRequested
from events.topics import EVICT, REQUESTS
from events.work import EvictRequested
from nearline.settings import Settings
from processors.app import now_ms
from processors.archive_put import sweep
from processors.evict import policy
from processors.sweeper.ports import CatalogReads

EVICT_BATCH = 1000  # files per evict request


def archive_sweep(
    settings: Settings,
    reads: CatalogReads,
    producer: Producer | None,
    holding_ids: Collection[int] | None = None,
) -> list[ArchiveRequested]:
    """Plan aggregates of the files to archive (of these holdings only, if given); send
    them unless ``producer`` is None."""
    files = reads.unarchived(settings.archive.max_files_per_sweep, holding_ids)
    requests = sweep.plan(
        files, settings.archive.aggregate_bytes, settings.archive.max_files_per_aggregate
    )
    if producer is not None:
        publish(producer, [(REQUESTS, r.user.encode(), r) for r in requests])
    return requests


@dataclass(frozen=True)
class EvictionPass:
    plan: policy.Plan
    requests: list[EvictRequested]


def eviction_pass(
    settings: Settings, reads: CatalogReads, producer: Producer | None
) -> EvictionPass:
    """Choose cache copies to remove; send the requests unless ``producer`` is None."""
    rules = policy.Rules.of(settings.eviction)
    usage = reads.cache_usage()
    over = usage > rules.capacity * rules.high  # below it, no candidate is needed
    chosen = policy.choose(usage, reads.eviction_candidates() if over else [], rules)
    run = uuid.uuid4().hex
    requests = []
    for holding_id, files in policy.by_holding(chosen.chosen).items():
        # Bounded requests: each lists its files, and a Kafka record is bounded too.
        for start in range(0, len(files), EVICT_BATCH):
            batch = files[start : start + EVICT_BATCH]
            transaction_id = event_id_for(run, "evict", str(holding_id), str(start))
            requests.append(
                EvictRequested(
                    event_id=event_id_for(transaction_id, "evict-requested"),
                    transaction_id=transaction_id,
                    user=batch[0].user,
                    group=batch[0].group,
                    cause_id=None,
                    occurred_at=now_ms(),
                    holding_id=holding_id,
                    files=[
                        {"file_id": c.file_id, "path": c.path, "object_key": c.object_key}
                        for c in batch
                    ],
                )
            )
    if producer is not None:
        publish(producer, [(EVICT, f"h{r.holding_id}".encode(), r) for r in requests])
    return EvictionPass(chosen, requests)


def publish(producer: Producer, items: Sequence[tuple[str, bytes, Event]]) -> None:
    """Send events and wait until the broker has each; raise if it refused any."""
    errors: list[KafkaError] = []

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            errors.append(error)

    for topic, key, event in items:
        producer.produce(topic, key=key, value=encode(event), on_delivery=delivered)
        producer.poll(0)
    if producer.flush(30) or errors:
        raise RuntimeError(f"the log did not take every event: {errors[:3]}")
