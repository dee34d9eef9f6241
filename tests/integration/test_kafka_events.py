"""Avro events through the real broker: produced and consumed with confluent-kafka and
with aiokafka (faust's client), decoded by the codec; poison records are named."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from aiokafka import AIOKafkaConsumer
from confluent_kafka import TopicPartition

from events.codec import UndecodableRecord, decode_message, encode
from events.requests import PutRequested
from nearline import bus
from nearline.settings import Settings


def sample_put(n: int) -> PutRequested:
    return PutRequested(
        event_id=f"00000000-0000-0000-0000-{n:012d}",
        transaction_id=f"tx-{n}",
        user="alice",
        group="climate",
        cause_id=None,
        occurred_at=1_700_000_000_000 + n,
        label="run-42",
        holding_id=None,
        tags={"model": "ukesm", "n": str(n)},
        paths=[b"/data/a.nc", b"/data/with space.nc", b"/data/\xff\xfe-not-utf8.nc"],
        path_list_file=None,
        job_label="job",
        api_action="put",
    )


def produce(settings: Settings, topic: str, values: list[bytes]) -> None:
    producer = bus.producer(settings)
    for value in values:
        producer.produce(topic, key=b"alice", value=value)
    assert producer.flush(15) == 0


def test_events_round_trip_through_broker_with_confluent_kafka(settings, topic_name):
    sent = [sample_put(n) for n in range(50)]
    produce(settings, topic_name, [encode(e) for e in sent])

    consumer = bus.consumer(settings, group=f"{topic_name}.reader")
    consumer.subscribe([topic_name])
    received = []
    try:
        while len(received) < len(sent):
            message = consumer.poll(10)
            assert message is not None, f"only {len(received)} of {len(sent)} events arrived"
            assert message.error() is None
            received.append(
                decode_message(
                    message.value(),
                    topic=message.topic(),
                    partition=message.partition(),
                    offset=message.offset(),
                )
            )
    finally:
        consumer.close()
    assert received == sent


def test_events_round_trip_through_broker_with_aiokafka(settings, topic_name):
    sent = [sample_put(n) for n in range(20)]
    produce(settings, topic_name, [encode(e) for e in sent])

    async def read() -> list:
        consumer = AIOKafkaConsumer(
            topic_name,
            **bus.aiokafka_config(settings),  # the stack's SASL login
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            got = []
            while len(got) < len(sent):
                batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 15)
                for records in batch.values():
                    got += [
                        decode_message(
                            r.value, topic=r.topic, partition=r.partition, offset=r.offset
                        )
                        for r in records
                    ]
            return got
        finally:
            await consumer.stop()

    assert asyncio.run(read()) == sent


def test_poison_records_are_rejected_naming_topic_partition_and_offset(settings, topic_name):
    good = encode(sample_put(1))
    unknown_fingerprint = b"\xc3\x01" + b"\x00" * 8 + good[10:]
    poison = [os.urandom(64), good[: len(good) // 2], unknown_fingerprint, b"not avro at all"]
    produce(settings, topic_name, poison)

    consumer = bus.consumer(settings, group=f"{topic_name}.reader")
    consumer.subscribe([topic_name])
    errors = []
    try:
        while len(errors) < len(poison):
            message = consumer.poll(10)
            assert message is not None
            with pytest.raises(UndecodableRecord) as caught:
                decode_message(
                    message.value(),
                    topic=message.topic(),
                    partition=message.partition(),
                    offset=message.offset(),
                )
            errors.append(caught.value)
    finally:
        consumer.close()
    for offset, error in enumerate(errors):
        assert f"{topic_name}[0]@{offset}" in str(error)
        assert (error.topic, error.partition, error.offset) == (topic_name, 0, offset)
    assert "fingerprint" in str(errors[2])


def test_a_lone_record_is_taken_at_once_and_a_backlog_in_one_batch(settings, topic_name):
    """``bus.take`` hands over what is there without waiting for a full batch: a live
    projection showed every lone fact only after its whole wait (consume's behaviour)."""
    consumer = bus.consumer(settings, group=f"{topic_name}.reader")
    consumer.assign([TopicPartition(topic_name, 0, 0)])
    try:
        produce(settings, topic_name, [b"one"])
        started = time.monotonic()
        taken = []
        while not taken and time.monotonic() - started < 60:
            taken = bus.take(consumer, 5000, 30.0)
        assert [m.value() for m in taken] == [b"one"]
        assert time.monotonic() - started < 15, "waited for a full batch"

        produce(settings, topic_name, [b"%d" % n for n in range(200)])
        time.sleep(1)  # fetched into the client meanwhile
        batch = bus.take(consumer, 5000, 30.0)
        assert [m.value() for m in batch] == [b"%d" % n for n in range(200)]
    finally:
        consumer.close()
