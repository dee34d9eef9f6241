"""The Kafka side of nearline: topics created, schemas published, producers and consumers.

One producer factory and one consumer factory for confluent-kafka (admin, projections,
tools); the faust processors get their broker settings from ``processor_broker_config``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from events.topics import SCHEMAS_TOPIC, Topic, topics
from nearline.settings import Settings

log = logging.getLogger(__name__)


def admin(settings: Settings) -> AdminClient:
    return AdminClient(settings.kafka.client_config())


def declared_topics(settings: Settings) -> list[Topic]:
    return topics(partitions=settings.kafka.partitions, replication=settings.kafka.replication)


def ensure_topics(settings: Settings, wanted: Iterable[Topic] | None = None) -> list[str]:
    """Create every declared topic that does not exist yet; return the names created."""
    wanted = list(wanted if wanted is not None else declared_topics(settings))
    client = admin(settings)
    existing = set(client.list_topics(timeout=10).topics)
    missing = [t for t in wanted if t.name not in existing]
    if not missing:
        return []
    futures = client.create_topics(
        [
            NewTopic(
                t.name,
                num_partitions=t.partitions,
                replication_factor=t.replication,
                config=t.config(),
            )
            for t in missing
        ],
        operation_timeout=30,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except KafkaException as error:
            # Another process may have created it between our look and our request.
            if "TOPIC_AUTHORIZATION_FAILED" in str(error):
                raise KafkaException(
                    f"topic {name} is missing and {settings.kafka.sasl_username} may not create "
                    "it: topics are created by the admin principal (`make stack-up`, or "
                    "`python -m admin.deploy init`)"
                ) from error
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise
    return created


def producer(settings: Settings, **overrides: str | int | bool) -> Producer:
    """The one producer configuration: idempotent, acknowledged by all in-sync replicas."""
    config: dict[str, str | int | float | bool] = {
        **settings.kafka.client_config(),
        "enable.idempotence": True,
        # The partitioner of Java and aiokafka: every producer puts a key in one place.
        "partitioner": "murmur2_random",
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "lz4",
        "message.max.bytes": 8 * 1024 * 1024,
    }
    config.update(overrides)
    return Producer(config)


def consumer(settings: Settings, group: str, **overrides: str | int | bool) -> Consumer:
    """A consumer that commits only what its caller says is done."""
    config: dict[str, str | int | float | bool] = {
        **settings.kafka.client_config(),
        "group.id": group,
        "session.timeout.ms": int(settings.kafka.session_timeout_s * 1000),
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    }
    config.update(overrides)
    return Consumer(config)


def take(consumer: Consumer, most: int, wait_s: float) -> list[Message]:
    """Up to ``most`` messages as soon as there is one (waiting up to ``wait_s`` for it),
    with those already fetched behind it. librdkafka's ``consume(most, timeout)`` returns
    only once it has ``most`` or the timeout has passed: a lone fact waited it out."""
    first = consumer.poll(wait_s)
    if first is None:
        return []
    return [first, *consumer.consume(most - 1, timeout=0)] if most > 1 else [first]


def publish_schemas(settings: Settings) -> int:
    """Write every schema version to the compacted ``_schemas`` topic: the log describes
    itself. Keyed by fingerprint, so publishing again changes nothing."""
    from events.registry import default_registry

    registry = default_registry()
    out = producer(settings)
    count = 0
    for fingerprint, canonical in registry.canonical_forms().items():
        out.produce(SCHEMAS_TOPIC, key=fingerprint.encode(), value=canonical.encode())
        count += 1
    remaining = out.flush(30)
    if remaining:
        raise KafkaException(f"{remaining} schema records were not delivered")
    return count


def prepare(settings: Settings) -> None:
    """What every process does at start: topics exist and schemas are published."""
    created = ensure_topics(settings)
    if created:
        log.info("created topics %s", ", ".join(sorted(created)))
    publish_schemas(settings)
    from nearline.schema_log import learn_writer_schemas

    learn_writer_schemas(settings)


def processor_broker_config(settings: Settings) -> dict[str, str]:
    """faust/aiokafka's view of the same broker settings."""
    kafka = settings.kafka
    return {
        "broker": "kafka://" + kafka.bootstrap_servers.replace(",", ";kafka://"),
        "security_protocol": kafka.security_protocol,
    }


def aiokafka_config(settings: Settings) -> dict[str, Any]:
    """aiokafka's connection keyword arguments, credentials included (faust's are made
    from the same settings in processors.app)."""
    kafka = settings.kafka
    config: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers,
        "security_protocol": kafka.security_protocol,
    }
    if kafka.sasl_mechanism:
        config["sasl_mechanism"] = kafka.sasl_mechanism
        config["sasl_plain_username"] = kafka.sasl_username or ""
        config["sasl_plain_password"] = kafka.password()
    if kafka.security_protocol.endswith("SSL"):
        import ssl

        config["ssl_context"] = ssl.create_default_context(cafile=kafka.ssl_cafile)
    return config
