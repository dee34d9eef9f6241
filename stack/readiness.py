"""Whether a started broker can do what nearline's processes need of it, not only answer.

A cold broker answers metadata requests long before it can give an idempotent producer
its id ("Coordinator load in progress") or let a consumer group join: a demo or a test
started then fails after its own timeouts. ``wait_until_ready`` returns only when a probe
has done both, on a topic of the stack's own (never one of the event log's).
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic

from nearline import bus
from nearline.daemons import StackError
from nearline.settings import Settings

PROBE_TOPIC = "stack-probe"
PROBE_CONFIG = {"retention.ms": str(3600 * 1000), "cleanup.policy": "delete"}


def wait_until_ready(settings: Settings, timeout: float = 180.0) -> float:
    """Block until an idempotent producer writes and a consumer group joins, as the
    principal of ``settings``; the seconds it took. Raises ``StackError`` after ``timeout``."""
    start = time.monotonic()
    deadline = start + timeout
    _ensure_probe_topic(settings)
    _produce(settings, deadline)
    _join(settings, deadline)
    return time.monotonic() - start


def _ensure_probe_topic(settings: Settings) -> None:
    client = bus.admin(settings)
    if PROBE_TOPIC in client.list_topics(timeout=30).topics:
        return
    future = client.create_topics(
        [NewTopic(PROBE_TOPIC, num_partitions=1, replication_factor=1, config=PROBE_CONFIG)]
    )[PROBE_TOPIC]
    try:
        future.result()
    except KafkaException as error:
        if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise


def _produce(settings: Settings, deadline: float) -> None:
    failures: list[str] = []
    while True:
        producer = bus.producer(settings, **{"message.timeout.ms": 15000})
        failures.clear()
        producer.produce(
            PROBE_TOPIC,
            b"ready?",
            on_delivery=lambda error, _: failures.append(str(error)) if error else None,
        )
        left = producer.flush(20)
        if left == 0 and not failures:
            return
        if time.monotonic() > deadline:
            raise StackError(
                "Kafka answers but an idempotent producer cannot write yet"
                f" ({failures[-1] if failures else 'no answer'}): see $NEARLINE_HOME/run/"
                "kafka-server.log"
            )
        time.sleep(1)


def _join(settings: Settings, deadline: float) -> None:
    consumer = bus.consumer(settings, f"nearline-stack-probe-{uuid.uuid4().hex[:8]}")
    try:
        consumer.subscribe([PROBE_TOPIC])
        while not consumer.assignment():
            consumer.poll(0.5)
            if time.monotonic() > deadline:
                raise StackError(
                    "Kafka answers but a consumer group cannot join yet: see "
                    "$NEARLINE_HOME/run/kafka-server.log"
                )
    finally:
        consumer.close()
