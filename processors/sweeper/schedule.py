"""The sweeper's turn (``Sweeper.run_once``): run each pass that is due, then say how long
until the next one is. The passes: the archive sweep every ``archive.sweep_interval_s``
seconds, the eviction policy every ``eviction.interval_s`` and the abort of abandoned
multipart uploads every ``s3.stale_upload_sweep_s``; the first of each comes one
interval after the first turn, as every later one. A pass that fails (the database or
the broker unreachable) is logged and tried again at its next turn. ``python -m
processors.sweeper`` runs the turns through ``processors.runner.run_loop``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import Producer

from nearline.settings import Settings
from processors.sweeper.passes import archive_sweep, eviction_pass
from processors.sweeper.ports import CatalogReads
from stores.s3.object_store import ObjectStore

log = logging.getLogger("nearline.sweeper")


class Sweeper:
    def __init__(
        self,
        settings: Settings,
        reads: CatalogReads,
        producer: Producer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.reads = reads
        self.producer = producer
        self.clock = clock
        self.intervals = {
            "archive": settings.archive.sweep_interval_s,
            "evict": settings.eviction.interval_s,
            "uploads": settings.s3.stale_upload_sweep_s,
        }
        self.passes: dict[str, Callable[[], None]] = {
            "archive": self.archive,
            "evict": self.evict,
            "uploads": self.uploads,
        }
        self.due: dict[str, float] = {}

    def run_once(self) -> float:
        """Run the passes that are due; the seconds until the next is (at least 0.1)."""
        now = self.clock()
        if not self.due:  # the first turn: every pass one interval from now
            self.due = {name: now + interval for name, interval in self.intervals.items()}
        for name, run in self.passes.items():
            if now >= self.due[name]:
                self.due[name] = now + self.intervals[name]
                try:
                    run()
                except Exception:
                    log.exception("%s failed", DESCRIBED[name])
        return max(0.1, min(self.due.values()) - self.clock())

    def archive(self) -> None:
        sent = archive_sweep(self.settings, self.reads, self.producer)
        if sent:
            log.info("archive sweep sent %d aggregates", len(sent))

    def evict(self) -> None:
        done = eviction_pass(self.settings, self.reads, self.producer)
        if done.plan.chosen:
            log.info("eviction: %d cache copies, %d bytes", len(done.plan.chosen), done.plan.freed)

    def uploads(self) -> None:
        with ObjectStore(self.settings) as store:
            aborted = store.abort_stale_uploads(self.settings.s3.stale_upload_age_s)
        if aborted:
            log.info("aborted %d abandoned multipart uploads", len(aborted))


DESCRIBED = {
    "archive": "archive sweep",
    "evict": "eviction pass",
    "uploads": "multipart upload sweep",
}
