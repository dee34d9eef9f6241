"""Topics are declared in one place and created at start; event topics keep data
forever; the schemas are published to the compacted `_schemas` topic."""

from __future__ import annotations

from confluent_kafka.admin import ConfigResource

from events.registry import default_registry
from events.topics import SCHEMAS_TOPIC
from nearline import bus


def topic_config(settings, name: str) -> dict[str, str]:
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    client = bus.admin(settings)  # kept alive until the answer arrives
    result = client.describe_configs([resource])[resource].result()
    return {key: entry.value for key, entry in result.items()}


def test_declared_topics_exist_with_their_partitions_and_retention(settings):
    bus.ensure_topics(settings)
    assert bus.ensure_topics(settings) == []  # a second start creates nothing
    metadata = bus.admin(settings).list_topics(timeout=10)
    for topic in bus.declared_topics(settings):
        assert topic.name in metadata.topics, topic.name
        assert len(metadata.topics[topic.name].partitions) == topic.partitions
        config = topic_config(settings, topic.name)
        assert config["cleanup.policy"] == topic.cleanup_policy
        if topic.name != SCHEMAS_TOPIC and topic.cleanup_policy == "delete":
            assert config["retention.ms"] == "-1", topic.name


def test_schemas_topic_describes_every_schema_version(settings):
    bus.prepare(settings)
    expected = default_registry().canonical_forms()
    consumer = bus.consumer(settings, group="test.schemas-reader")
    from confluent_kafka import TopicPartition

    consumer.assign([TopicPartition(SCHEMAS_TOPIC, 0, 0)])
    seen: dict[str, str] = {}
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(SCHEMAS_TOPIC, 0), timeout=10)
        while True:
            message = consumer.poll(5)
            if message is None:
                break
            seen[message.key().decode()] = message.value().decode()
            if message.offset() + 1 >= high:
                break
    finally:
        consumer.close()
    assert topic_config(settings, SCHEMAS_TOPIC)["cleanup.policy"] == "compact"
    for fingerprint, canonical in expected.items():
        assert seen.get(fingerprint) == canonical
