"""Bad input never stops the system: undecodable records on the processors' topics go to
the dead-letter topic with their reason and position, and every processor stays up and
keeps working."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import TopicPartition

from events.codec import decode
from events.ops import RecordDeadLettered
from events.topics import DEAD_LETTER, INDEX, REPORTS, REQUESTS, TRANSFER_PUT
from nearline import bus, processes
from nearline.requests import RequestLog
from projections.db import make_engine
from tests.integration.accounts import chown
from tests.integration.catalog_queries import wait_for_transaction


def dead_letter_ends(settings) -> dict[int, int]:
    consumer = bus.consumer(settings, group="test.dlq-ends")
    try:
        partitions = consumer.list_topics(DEAD_LETTER, timeout=10).topics[DEAD_LETTER].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(DEAD_LETTER, p), timeout=10)[1]
            for p in partitions
        }
    finally:
        consumer.close()


def dead_letters_since(settings, ends: dict[int, int], wanted: int, timeout: float = 60):
    consumer = bus.consumer(settings, group=f"test.dlq-{uuid.uuid4().hex[:6]}")
    consumer.assign([TopicPartition(DEAD_LETTER, p, offset) for p, offset in ends.items()])
    letters: list[RecordDeadLettered] = []
    deadline = time.monotonic() + timeout
    try:
        while len(letters) < wanted and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                letters.append(decode(message.value()))
    finally:
        consumer.close()
    return letters


def test_poison_goes_to_the_dead_letter_topic_and_processors_carry_on(
    settings, processors, users, catalog_url
):
    ends = dead_letter_ends(settings)
    producer = bus.producer(settings)
    poison = {
        REQUESTS: os.urandom(40),
        REPORTS: b"\xc3\x01" + b"\x07" * 8 + b"unknown fingerprint",
        INDEX: b"definitely not avro",
        TRANSFER_PUT: b"\xc3\x01",
    }
    for topic, value in poison.items():
        producer.produce(topic, key=b"mallory", value=value)
    assert producer.flush(10) == 0

    letters = dead_letters_since(settings, ends, len(poison))
    assert {letter.source_topic for letter in letters} == set(poison)
    for letter in letters:
        assert letter.value == poison[letter.source_topic]
        assert letter.key == b"mallory"
        assert f"{letter.source_topic}[{letter.source_partition}]@{letter.source_offset}" in (
            letter.reason
        )
    running = processes.running(settings)
    assert all(pid for name, pid in running.items() if name != "api"), running

    # ... and a PUT after the poison still goes through.
    alice, climate = users["alice"]
    folder = Path(tempfile.mkdtemp(prefix="nearline-poison-", dir="/tmp"))
    folder.chmod(0o755)  # reachable by alice, unlike pytest's private tmp_path
    (folder / "ok.txt").write_text("fine\n")
    for path in (folder, folder / "ok.txt"):
        chown(os.fsencode(path), alice, climate)
    requests = RequestLog(settings)
    request = requests.put(user=alice, group=climate, paths=[str(folder)])
    requests.close()
    engine = make_engine(catalog_url)
    try:
        assert wait_for_transaction(engine, request.transaction_id).state == "COMPLETE"
    finally:
        engine.dispose()
        shutil.rmtree(folder)
