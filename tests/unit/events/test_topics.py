"""Topics are declared once: event topics keep data forever, `_schemas` is compacted."""

from __future__ import annotations

import pytest

from events.registry import default_registry
from events.topics import REQUESTS, SCHEMAS_TOPIC, TOPICS, topics


def by_name(declared):
    return {t.name: t for t in declared}


def test_the_declared_topics():
    names = [t.name for t in TOPICS]
    assert len(names) == len(set(names))
    assert set(names) >= {
        "nearline.requests",
        "nearline.catalog",
        "nearline.index",
        "nearline.transfer-put",
        "nearline.transfer-get",
        "nearline.archive-put",
        "nearline.archive-get",
        "nearline.evict",
        "nearline.status",
        "nearline.retry",
        "nearline.dead-letter",
        "_schemas",
    }


def test_event_topics_keep_data_forever_with_the_partitions_asked_for():
    for topic in topics(partitions=24, replication=3):
        if topic.name == SCHEMAS_TOPIC:
            continue
        assert topic.partitions == 24
        assert topic.config() == {
            "retention.ms": "-1",
            "cleanup.policy": "delete",
            "min.insync.replicas": "2",
        }


def test_schemas_topic_is_compacted_with_one_partition():
    schemas = by_name(topics(partitions=24))[SCHEMAS_TOPIC]
    assert schemas.partitions == 1
    assert schemas.cleanup_policy == "compact"
    assert schemas.config()["cleanup.policy"] == "compact"


def test_a_single_broker_needs_no_min_insync_replicas():
    assert all("min.insync.replicas" not in t.config() for t in topics(replication=1))
    assert all(t.replication == 1 and t.partitions in (1, 6) for t in TOPICS)


def test_requests_are_keyed_by_user_and_carry_the_request_events():
    requests = by_name(TOPICS)[REQUESTS]
    assert requests.key == "user"
    registry = default_registry()
    assert {n.rpartition(".")[2] for n in requests.carries} == {
        "PutRequested",
        "GetRequested",
        "StageRequested",
        "DeleteRequested",
        "MetaRequested",
        "ArchiveRequested",
        "UploadRequested",
    }
    for topic in TOPICS:
        for name in topic.carries:
            assert registry.event_class(name).schema_name == name


def test_nonsense_sizes_are_refused():
    with pytest.raises(ValueError):
        topics(partitions=0)
