"""The sweeper process: ``python -m processors.sweeper``.

Runs the archive sweep every ``archive.sweep_interval_s`` seconds, the eviction policy
every ``eviction.interval_s`` seconds and aborts abandoned multipart uploads every
``s3.stale_upload_sweep_s`` seconds, until it is stopped. A pass that fails (the
database or the broker unreachable) is logged and tried again at its next turn.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from nearline import bus
from nearline.observe import logs, server
from nearline.settings import get_settings
from processors.sweeper.passes import archive_sweep, eviction_pass
from processors.sweeper.wiring import catalog_reads
from stores.s3.object_store import ObjectStore

log = logging.getLogger("nearline.sweeper")


def main() -> None:
    settings = get_settings()
    logs.setup(settings, "sweeper")
    bus.prepare(settings)
    server.serve(settings)
    reads = catalog_reads(settings)  # the catalog projection, through its port (D140)
    producer = bus.producer(settings)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    # The first passes come one interval after the start, as every later one.
    start = time.monotonic()
    due = {
        "archive": start + settings.archive.sweep_interval_s,
        "evict": start + settings.eviction.interval_s,
        "uploads": start + settings.s3.stale_upload_sweep_s,
    }
    server.HEALTH.set(True, "sweeping on schedule")
    while not stop.is_set():
        now = time.monotonic()
        if now >= due["archive"]:
            due["archive"] = now + settings.archive.sweep_interval_s
            try:
                sent = archive_sweep(settings, reads, producer)
                if sent:
                    log.info("archive sweep sent %d aggregates", len(sent))
            except Exception:
                log.exception("archive sweep failed")
        if now >= due["evict"]:
            due["evict"] = now + settings.eviction.interval_s
            try:
                done = eviction_pass(settings, reads, producer)
                if done.plan.chosen:
                    log.info(
                        "eviction: %d cache copies, %d bytes",
                        len(done.plan.chosen),
                        done.plan.freed,
                    )
            except Exception:
                log.exception("eviction pass failed")
        if now >= due["uploads"]:
            due["uploads"] = now + settings.s3.stale_upload_sweep_s
            try:
                with ObjectStore(settings) as store:
                    aborted = store.abort_stale_uploads(settings.s3.stale_upload_age_s)
                if aborted:
                    log.info("aborted %d abandoned multipart uploads", len(aborted))
            except Exception:
                log.exception("multipart upload sweep failed")
        stop.wait(max(0.1, min(due.values()) - time.monotonic()))


if __name__ == "__main__":
    main()
