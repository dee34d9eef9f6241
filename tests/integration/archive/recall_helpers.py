"""Driving files to tape only, and following recalls, for the recall tests."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path

from confluent_kafka import TopicPartition

from events.base import Event
from events.catalog import FilesRecalled
from events.codec import decode
from events.topics import CATALOG
from nearline import bus
from nearline.settings import Settings
from processors.sweeper.passes import eviction_pass
from processors.sweeper.wiring import ProjectionReads
from projections.queries.eviction import cache_usage
from stack import xrootd
from stores.tape.endpoint import TapeEndpoint
from tests.integration.accounts import chown
from tests.integration.archive.test_archive_flow import (
    regular_files,
    sweep_and_wait,
    wait_until,
)


def aggregates_of(engine, holding_id: int) -> set[str]:
    return {row["locations"]["TAPE"][0] for row in regular_files(engine, holding_id).values()}


def archive_evict_and_purge(
    settings, engine, producer, tape: TapeEndpoint, holding_id: int, purge: bool = True
) -> set[str]:
    """Archive the holding, evict every archived cache copy, and (``purge``) drop the tape
    endpoint's disk copies: the catalog shows tape only, and reading needs a real stage."""
    files = regular_files(engine, holding_id).values()
    if not all("TAPE" in f["locations"] for f in files):  # (else archived before)
        facts = sweep_and_wait(settings, engine, producer, holding_id)
        assert facts and all(not f.failed for f in facts), facts
    wait_until(
        lambda: all("TAPE" in f["locations"] for f in regular_files(engine, holding_id).values()),
        what="tape locations",
    )
    names = aggregates_of(engine, holding_id)
    wait_until(lambda: all(tape.stat(n).on_tape for n in names), 60, "migration to tape")
    with engine.connect() as conn:
        usage = cache_usage(conn)
    policy = settings.eviction.model_copy(
        update={"cache_capacity_bytes": max(usage, 1), "high_watermark": 0.5, "low_watermark": 0.0}
    )
    eviction_pass(
        settings.model_copy(update={"eviction": policy}), ProjectionReads(engine), producer
    )
    wait_until(
        lambda: all(
            set(f["locations"]) == {"TAPE"} for f in regular_files(engine, holding_id).values()
        ),
        what="the evicted files to show tape only",
    )
    if purge:
        for name in names:
            xrootd.purge_buffer(settings, f"{tape.root}/{name}")
        wait_until(lambda: not any(tape.stat(n).online for n in names), 30, "aggregates offline")
    return names


class Recalls:
    """The events of one type (``FilesRecalled`` facts by default) written to ``topic``
    from now on."""

    def __init__(
        self, settings: Settings, topic: str = CATALOG, kind: type[Event] = FilesRecalled
    ) -> None:
        self.topic, self.kind = topic, kind
        self.consumer = bus.consumer(settings, group=f"test-recall-{uuid.uuid4().hex[:8]}")
        self.partitions = range(settings.kafka.partitions)
        self.positions: dict[int, int] = {}
        for p in self.partitions:
            _low, high = self.consumer.get_watermark_offsets(TopicPartition(topic, p), 10)
            self.positions[p] = high
        self.consumer.assign([TopicPartition(topic, p, o) for p, o in self.positions.items()])

    def seen(self, transaction_ids: Iterable[str]) -> list:
        """Every event of these transactions in the log by now, not returned before."""
        wanted = set(transaction_ids)
        ends = {
            p: self.consumer.get_watermark_offsets(TopicPartition(self.topic, p), 10)[1]
            for p in self.partitions
        }
        found: list = []
        positions = self.positions
        while any(positions[p] < ends[p] for p in self.partitions):
            message = self.consumer.poll(1)
            if message is None or message.error():
                continue
            positions[message.partition()] = message.offset() + 1
            event = decode(message.value())
            if isinstance(event, self.kind) and event.transaction_id in wanted:
                found.append(event)
        return found

    def close(self) -> None:
        self.consumer.close()


def target_folder(owner: tuple[str, str]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="nearline-recall-", dir="/tmp"))
    folder.chmod(0o755)
    chown(folder, *owner)
    return folder


def restored_files(folder: Path) -> dict[str, bytes]:
    """The regular files below ``folder`` by name."""
    return {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def remove(folders: Iterable[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
