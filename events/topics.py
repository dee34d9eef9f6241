"""Every Kafka topic nearline uses, declared in one place.

Event topics keep their records forever: the log is the system of record, and replaying
it rebuilds every projection. ``_schemas`` is compacted: one record per schema version,
keyed by fingerprint, so the log describes itself. Creating the topics is
``nearline.bus``'s job; this module only declares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

REQUESTS = "nearline.requests"
REPORTS = "nearline.reports"
CATALOG = "nearline.catalog"
INDEX = "nearline.index"
TRANSFER_PUT = "nearline.transfer-put"
TRANSFER_GET = "nearline.transfer-get"
DELETE_OBJECTS = "nearline.delete-objects"
ARCHIVE_PUT = "nearline.archive-put"
ARCHIVE_GET = "nearline.archive-get"
EVICT = "nearline.evict"
STATUS = "nearline.status"
CARTS = "nearline.carts"
SCICAT = "nearline.scicat"
TOKENS = "nearline.tokens"
RETRY = "nearline.retry"
DEAD_LETTER = "nearline.dead-letter"
SCHEMAS_TOPIC = "_schemas"

FOREVER = -1
"""``retention.ms`` that never deletes."""

CleanupPolicy = Literal["delete", "compact"]


@dataclass(frozen=True, slots=True)
class Topic:
    """One topic: its name, what its record keys are, and how Kafka keeps it."""

    name: str
    key: str
    """What the record key is (e.g. ``user``): records of one key stay in order."""
    partitions: int
    retention_ms: int
    cleanup_policy: CleanupPolicy
    carries: tuple[str, ...]
    """Full schema names of the events on the topic; empty where any record may appear
    (retry and dead-letter copy records from other topics) or no family exists yet."""
    replication: int = 1

    def config(self) -> dict[str, str]:
        """The Kafka topic configuration to create the topic with."""
        config = {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy}
        if self.replication > 1:
            # A majority of replicas must have a write before it is acknowledged, so that
            # losing a minority of brokers loses no event.
            config["min.insync.replicas"] = str(self.replication // 2 + 1)
        return config


_REQUEST_EVENTS = tuple(
    f"nearline.requests.{name}"
    for name in (
        "PutRequested",
        "GetRequested",
        "StageRequested",
        "DeleteRequested",
        "MetaRequested",
        "ArchiveRequested",
        "UploadRequested",
    )
)

_CART_EVENTS = tuple(
    f"nearline.carts.{name}"
    for name in (
        "CartRequested",
        "CartOfFilesRequested",
        "CartDeleteRequested",
        "CartDownloaded",
        "CartStateChanged",
    )
)

_SCICAT_EVENTS = ("nearline.scicat.ScicatJobReceived", "nearline.scicat.ScicatStepRecorded")

_TOKEN_EVENTS = ("nearline.auth.RefreshTokenUsed", "nearline.auth.TokenFamilyRevoked")

# name, key, carries: the event topics, which share partitioning and retention.
_EVENT_TOPICS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (REQUESTS, "user", _REQUEST_EVENTS),
    (REPORTS, "user", ()),
    (CATALOG, "user", ()),
    (INDEX, "transaction", ()),
    (TRANSFER_PUT, "transaction", ()),
    (TRANSFER_GET, "transaction", ()),
    (DELETE_OBJECTS, "transaction", ()),
    (ARCHIVE_PUT, "aggregate", ()),
    (ARCHIVE_GET, "aggregate", ()),
    (EVICT, "holding", ()),
    (STATUS, "transaction", ()),
    (CARTS, "user", _CART_EVENTS),
    (SCICAT, "SciCat job", _SCICAT_EVENTS),
    (TOKENS, "token family", _TOKEN_EVENTS),
    (RETRY, "key of the source record", ()),
    (DEAD_LETTER, "source topic", ()),
)


def topics(partitions: int = 6, replication: int = 1) -> list[Topic]:
    """Every topic, with ``partitions`` for the event topics (``_schemas`` has one, so that
    it reads back in order) and ``replication`` for all."""
    if partitions < 1 or replication < 1:
        raise ValueError("partitions and replication must be at least 1")
    declared = [
        Topic(name, key, partitions, FOREVER, "delete", carries, replication)
        for name, key, carries in _EVENT_TOPICS
    ]
    declared.append(
        Topic(SCHEMAS_TOPIC, "schema fingerprint (hex)", 1, FOREVER, "compact", (), replication)
    )
    return declared


TOPICS = topics()
"""The topics with the default partitioning, for a single broker."""
