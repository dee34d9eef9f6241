"""nearline's Prometheus metrics, shared by every process.

Counters move where the work is done (``processors.app`` counts each event handled and
each dead letter, the workers count the bytes they move); lag is read from Kafka (and
the API's cache use from the catalog, ``api.cache_usage``) when Prometheus scrapes, at
most every ``metrics.lag_cache_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from nearline.settings import Settings

log = logging.getLogger(__name__)

disable_created_metrics()  # the *_created series double every counter for no use here
REGISTRY = CollectorRegistry()

EVENTS_PROCESSED = Counter(
    "nearline_events_processed",
    "Events a processor handled, by processor, topic and event type.",
    ["processor", "topic", "type"],
    registry=REGISTRY,
)
EVENTS_FAILED = Counter(
    "nearline_events_failed",
    "Events a processor could not handle (dead-lettered or raised), by type.",
    ["processor", "topic", "type"],
    registry=REGISTRY,
)
FILES_FAILED = Counter(
    "nearline_files_failed",
    "Files a worker reported failed, by processor.",
    ["processor"],
    registry=REGISTRY,
)
BYTES_MOVED = Counter(
    "nearline_bytes_moved",
    "Bytes written to or read from a storage tier, by tier and direction.",
    ["tier", "direction"],
    registry=REGISTRY,
)
STAGE_WAIT = Histogram(
    "nearline_stage_wait_seconds",
    "Time from an event being written to a processor taking it up, by topic.",
    ["topic"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200),
    registry=REGISTRY,
)


def moved(tier: str, direction: str, size: int) -> None:
    """Count ``size`` bytes moved to (``put``) or from (``get``) ``tier``
    (``object_storage`` or ``tape``)."""
    if size:
        BYTES_MOVED.labels(tier, direction).inc(size)


class Cached:
    """A reading reused for ``ttl`` seconds, so that scrapes do not hammer Kafka."""

    def __init__(self, read: Callable[[], Any], ttl: float) -> None:
        self.read, self.ttl = read, ttl
        self.value: Any = None
        self.at = float("-inf")
        self.lock = threading.Lock()

    def get(self) -> Any:
        with self.lock:
            if time.monotonic() - self.at >= self.ttl:
                self.value = self.read()
                self.at = time.monotonic()
            return self.value


class LagCollector(Collector):
    """``nearline_consumer_lag`` and ``nearline_consumer_members`` of the given groups
    (all nearline groups when None), read when scraped."""

    def __init__(self, settings: Settings, groups: list[str] | None = None) -> None:
        from nearline.observe.lag import group_states

        self.reading = Cached(lambda: group_states(settings, groups), settings.metrics.lag_cache_s)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        lag = GaugeMetricFamily(
            "nearline_consumer_lag",
            "Records not yet consumed: high watermark minus the group's committed offset.",
            labels=["group", "topic", "partition"],
        )
        members = GaugeMetricFamily(
            "nearline_consumer_members", "Live members of the consumer group.", labels=["group"]
        )
        try:
            states = self.reading.get()
        except Exception as error:  # Kafka unreachable: say so in the log, not the scrape
            log.warning("cannot read consumer lag: %s", error)
            states = []
        for state in states:
            members.add_metric([state.group], state.members)
            for p in state.partitions:
                lag.add_metric([state.group, p.topic, str(p.partition)], p.lag)
        yield lag
        yield members
