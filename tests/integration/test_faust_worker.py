"""faust-streaming (with aiokafka) works against the stack's Kafka 4: a real worker
process consumes Avro events and produces them onward."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

from confluent_kafka.admin import NewTopic

from events.codec import decode, encode
from nearline import bus
from tests.integration.test_kafka_events import sample_put


def test_faust_worker_consumes_and_produces_avro_events(settings, tmp_path):
    name = uuid.uuid4().hex[:8]
    source, sink = f"test.{name}.in", f"test.{name}.out"
    admin = bus.admin(settings)
    for future in admin.create_topics(
        [NewTopic(t, num_partitions=2, replication_factor=1) for t in (source, sink)]
    ).values():
        future.result()
    sent = [sample_put(n) for n in range(10)]
    producer = bus.producer(settings)
    for event in sent:
        producer.produce(source, key=event.user.encode(), value=encode(event))
    assert producer.flush(10) == 0

    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.faust_echo",
            "worker",
            "--without-web",
            "-l",
            "warn",
        ],
        env={
            **os.environ,
            "ECHO_GROUP": f"test-echo-{name}",
            "ECHO_SOURCE": source,
            "ECHO_SINK": sink,
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    consumer = bus.consumer(settings, group=f"test.{name}.reader")
    consumer.subscribe([sink])
    received = []
    try:
        deadline = time.monotonic() + 60
        while len(received) < len(sent) and time.monotonic() < deadline:
            message = consumer.poll(1)
            if message is not None and message.error() is None:
                received.append(decode(message.value()))
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
    finally:
        consumer.close()
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
        for future in admin.delete_topics([source, sink]).values():
            future.result()
    assert sorted(received, key=lambda e: e.event_id) == sent
