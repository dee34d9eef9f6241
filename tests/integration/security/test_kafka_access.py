"""Kafka is not open to whoever can reach its port: a local user (or any process on the
host) who forges a request, or reads the log, is refused. Clients log in with SCRAM;
each of nearline's principals may write only the topics its process writes and read
only those it consumes (nearline.kafka_access)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from events.codec import encode
from events.topics import CATALOG, INDEX, REQUESTS, STATUS, TRANSFER_PUT
from nearline import bus, kafka_access
from nearline.kafka_access import ACCESS, as_principal
from nearline.settings import Settings
from tests.integration.test_kafka_events import sample_put

pytestmark = pytest.mark.security

FORGED = encode(sample_put(7))  # a well-formed PutRequested, as an attacker would write


def offsets(settings: Settings, topic: str) -> dict[int, int]:
    """The high watermark of each partition of ``topic``, read as ``admin``."""
    consumer = bus.consumer(as_principal(settings, kafka_access.ADMIN), "nearline-schema-log")
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        }
    finally:
        consumer.close()


def forge(config: dict[str, Any], topic: str = REQUESTS) -> KafkaError | None:
    """Try to write a forged request to ``topic``; the delivery error, None if written."""
    outcome: list[KafkaError | None] = []
    producer = Producer({**config, "message.timeout.ms": 6000, "log_level": 0})
    producer.produce(
        topic, key=b"nl-alice", value=FORGED, on_delivery=lambda e, _m: outcome.append(e)
    )
    producer.flush(15)
    return outcome[0] if outcome else KafkaError(KafkaError._MSG_TIMED_OUT)


def login(settings: Settings, principal: str) -> dict[str, Any]:
    return as_principal(settings, principal).kafka.client_config()


def test_the_broker_requires_sasl(settings):
    assert settings.kafka.security_protocol == "SASL_PLAINTEXT"
    assert settings.kafka.sasl_mechanism == "SCRAM-SHA-256"


def test_a_forged_request_without_credentials_is_refused(settings):
    before = offsets(settings, REQUESTS)
    anonymous = {"bootstrap.servers": settings.kafka.bootstrap_servers}
    assert forge(anonymous) is not None
    wrong = {**login(settings, "api"), "sasl.password": "guessed"}
    assert forge(wrong) is not None
    assert offsets(settings, REQUESTS) == before


def test_only_the_api_and_the_processes_that_make_requests_may_write_requests():
    assert kafka_access.writers_of(REQUESTS) == ["api", "carts", "scicat", "sweeper"]


def test_a_processor_principal_cannot_write_the_requests_topic(settings):
    before = offsets(settings, REQUESTS)
    refused = {}
    for principal in sorted(set(ACCESS) - set(kafka_access.writers_of(REQUESTS))):
        error = forge(login(settings, principal))
        refused[principal] = error.code() if error is not None else None
    assert refused == dict.fromkeys(refused, KafkaError.TOPIC_AUTHORIZATION_FAILED)
    assert offsets(settings, REQUESTS) == before


def first_error(settings: Settings, principal: str, topic: str, wait_s: float = 8) -> Any:
    """Read ``topic`` from its start as ``principal``: the first error code, if any."""
    consumer = Consumer(
        {
            **login(settings, principal),
            "group.id": kafka_access.SCHEMA_LOG_GROUP,  # a group every principal may use
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(2)])
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is not None:
                return message.error().code()
        return None
    finally:
        consumer.close()


@pytest.mark.parametrize(
    ("principal", "topic"),
    [("indexer", REQUESTS), ("evict", CATALOG), ("transfer-put", STATUS), ("api", INDEX)],
)
def test_a_principal_cannot_read_a_topic_it_has_no_acl_for(settings, principal, topic):
    assert topic not in ACCESS[principal].reads
    assert first_error(settings, principal, topic) == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_a_principal_reads_the_topic_it_consumes(settings):
    # The refusals above are the ACLs' doing, not a login that fails.
    assert first_error(settings, "transfer-put", TRANSFER_PUT, wait_s=3) is None


def test_the_brokers_acls_are_exactly_the_table(settings):
    client = bus.admin(as_principal(settings, kafka_access.ADMIN))
    anything: Any = None
    every = AclBindingFilter(
        ResourceType.ANY,
        anything,
        ResourcePatternType.ANY,
        anything,
        anything,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    found = {str(b) for b in client.describe_acls(every, request_timeout=30).result()}
    assert found == {str(b) for b in kafka_access.bindings()}


def test_a_principal_may_not_create_topics_or_alter_acls(settings):
    from confluent_kafka.admin import NewTopic

    client = bus.admin(as_principal(settings, "api"))
    name = f"nearline.forged-{uuid.uuid4().hex[:8]}"
    future = client.create_topics([NewTopic(name, 1, 1)], operation_timeout=10)[name]
    with pytest.raises(Exception, match="AUTHORIZATION_FAILED"):
        future.result()
    with pytest.raises(Exception, match="AUTHORIZATION_FAILED"):
        kafka_access.apply_acls(client)
