"""Consumer-group lag and membership, read from Kafka's admin API: each group's committed
offset against the partition's high watermark, and whether the group has live members.

A processor's liveness is its consumer group's membership: a worker that stops leaves
its group at once, one that dies is dropped after the session timeout
(``kafka.session_timeout_s``). No heartbeat topic is needed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from events.topics import ARCHIVE_PUT, CATALOG, INDEX, REPORTS, REQUESTS, STATUS, TRANSFER_PUT
from nearline import bus
from nearline.settings import Settings

GROUP_PREFIX = "nearline-"

PROCESSORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "catalog": ("nearline-catalog", (REQUESTS, REPORTS)),
    "indexer": ("nearline-indexer", (INDEX,)),
    "transfer-put": ("nearline-transfer-put", (TRANSFER_PUT,)),
    "projections": ("nearline-projection-catalog", (CATALOG, STATUS)),
}
"""The processors nearline always runs: name → (consumer group, topics it consumes).
Groups of other processors are found in Kafka by their ``nearline-`` prefix."""

TAPE_QUEUE_GROUP = "nearline-archive-put"
TAPE_QUEUE_TOPIC = ARCHIVE_PUT


def _is_processor_group(group: str) -> bool:
    # Helper consumers (the decider's rebuild, tails) only assign partitions and commit
    # nothing: they are not processors.
    return (
        group.startswith(GROUP_PREFIX)
        and not group.endswith("-rebuild")
        and not group.startswith("nearline-tail-")
    )


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int | None  # None: the group has committed nothing here yet
    high: int
    low: int

    @property
    def lag(self) -> int:
        start = self.committed if self.committed is not None and self.committed >= 0 else self.low
        return max(0, self.high - start)


@dataclass
class GroupState:
    processor: str
    group: str
    members: int
    state: str
    hosts: list[str] = field(default_factory=list)
    partitions: list[PartitionLag] = field(default_factory=list)

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    @property
    def up(self) -> bool:
        return self.members > 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "processor": self.processor,
            "group": self.group,
            "up": self.up,
            "members": self.members,
            "state": self.state,
            "hosts": self.hosts,
            "lag": self.lag,
            "partitions": [asdict(p) | {"lag": p.lag} for p in self.partitions],
        }


def _processor_name(group: str) -> str:
    for name, (known, _topics) in PROCESSORS.items():
        if known == group:
            return name
    return group.removeprefix(GROUP_PREFIX)


def nearline_groups(client: AdminClient) -> list[str]:
    """The nearline consumer groups Kafka knows, and the always-running ones."""
    listed = client.list_consumer_groups(request_timeout=10).result()
    found = {g.group_id for g in listed.valid if _is_processor_group(g.group_id)}
    return sorted(found | {group for group, _topics in PROCESSORS.values()})


def _committed(client: AdminClient, group: str) -> dict[tuple[str, int], int]:
    future = client.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group]
    result = future.result()
    return {
        (tp.topic, tp.partition): tp.offset
        for tp in result.topic_partitions or []
        if tp.error is None
    }


def _watermarks(
    client: AdminClient, partitions: list[tuple[str, int]]
) -> dict[tuple[str, int], tuple[int, int]]:
    if not partitions:
        return {}
    marks: dict[tuple[str, int], list[int]] = {tp: [0, 0] for tp in partitions}
    for spec, index in ((OffsetSpec.earliest(), 0), (OffsetSpec.latest(), 1)):
        futures = client.list_offsets({TopicPartition(t, p): spec for t, p in partitions})
        for tp, future in futures.items():
            marks[(tp.topic, tp.partition)][index] = future.result().offset
    return {tp: (low, high) for tp, (low, high) in marks.items()}


def _topic_partitions(client: AdminClient, topics: set[str]) -> list[tuple[str, int]]:
    metadata = client.list_topics(timeout=10).topics
    return [
        (name, p) for name in sorted(topics) if name in metadata for p in metadata[name].partitions
    ]


def group_states(settings: Settings, groups: list[str] | None = None) -> list[GroupState]:
    """Lag and membership of every nearline consumer group (or of ``groups``)."""
    client = bus.admin(settings)
    names = groups if groups is not None else nearline_groups(client)
    described = client.describe_consumer_groups(names, request_timeout=10)
    committed = {name: _committed(client, name) for name in names}
    # Each group's partitions: what it committed, plus all of the topics it is meant to
    # consume, so that a group that never ran still shows its whole backlog.
    wanted: dict[str, set[str]] = {}
    for name in names:
        topics = {topic for topic, _p in committed[name]}
        processor = _processor_name(name)
        if processor in PROCESSORS:
            topics |= set(PROCESSORS[processor][1])
        if name == TAPE_QUEUE_GROUP:
            topics.add(TAPE_QUEUE_TOPIC)
        wanted[name] = topics
    everything = _topic_partitions(client, set().union(*wanted.values()) if wanted else set())
    marks = _watermarks(client, everything)
    states = []
    for name in names:
        try:
            description = described[name].result()
            members = list(description.members or [])
            state = str(description.state.name if description.state else "UNKNOWN")
        except KafkaException:
            members, state = [], "UNKNOWN"
        group = GroupState(
            processor=_processor_name(name),
            group=name,
            members=len(members),
            state=state,
            hosts=sorted(f"{m.client_id}@{m.host}" for m in members),
        )
        for topic, partition in everything:
            if topic not in wanted[name]:
                continue
            low, high = marks[(topic, partition)]
            group.partitions.append(
                PartitionLag(
                    name, topic, partition, committed[name].get((topic, partition)), high, low
                )
            )
        states.append(group)
    return states


def tape_queue(settings: Settings) -> int:
    """Aggregates waiting to be written to tape: the archive-put backlog."""
    return group_states(settings, [TAPE_QUEUE_GROUP])[0].lag
