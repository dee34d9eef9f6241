"""The retry forwarder's turn (``run_once``) with a fake consumer and producer: records
come back to their topic when due, not before, and offsets are committed only below the
oldest record still waiting."""

from __future__ import annotations

import time

from confluent_kafka import TopicPartition

from events.topics import RETRY
from nearline.observe.server import Health
from processors.retry.forwarder import Forwarder
from processors.retry.schedule import ATTEMPT, retry_headers


class Message:
    def __init__(self, offset: int, headers: list[tuple[str, bytes]], value: bytes) -> None:
        self._offset, self._headers, self._value = offset, headers, value

    def error(self):
        return None

    def headers(self):
        return self._headers

    def offset(self):
        return self._offset

    def topic(self):
        return RETRY

    def partition(self):
        return 0

    def key(self):
        return b"alice"

    def value(self):
        return self._value


class Consumer:
    def __init__(self, batches: list[list[Message]]) -> None:
        self.batches = batches
        self.subscribed: list[str] = []
        self.committed: list[list[TopicPartition]] = []
        self.closed = False
        self.next_offset = 0
        self.waits: list[tuple[str, float]] = []  # each call that may wait, and how long

    def subscribe(self, topics, on_assign, on_revoke):
        self.subscribed = topics
        on_assign(self, [TopicPartition(RETRY, 0)])

    def poll(self, timeout):
        self.waits.append(("poll", timeout))
        if not self.batches or not self.batches[0]:
            if self.batches:
                self.batches.pop(0)
            return None
        self.next_offset += 1
        return self.batches[0].pop(0)

    def consume(self, count, timeout):
        self.waits.append(("consume", timeout))
        batch = self.batches.pop(0) if self.batches else []
        self.next_offset += len(batch)
        return batch

    def assignment(self):
        return [TopicPartition(RETRY, 0)]

    def position(self, partitions):
        return [TopicPartition(p.topic, p.partition, self.next_offset) for p in partitions]

    def commit(self, offsets, asynchronous):
        self.committed.append(offsets)

    def close(self):
        self.closed = True


class Producer:
    def __init__(self) -> None:
        self.produced: list[tuple[str, bytes, list]] = []

    def produce(self, topic, key, value, headers):
        self.produced.append((topic, value, headers))

    def flush(self, _timeout):
        return 0


def test_due_records_go_back_to_their_topic_and_later_ones_wait():
    due = Message(0, retry_headers("nearline.transfer-put", 1, 0.0, "down"), b"now")
    later = Message(1, retry_headers("nearline.transfer-put", 2, 3600.0, "down"), b"later")
    consumer, producer, health = Consumer([[due, later]]), Producer(), Health()
    with Forwarder(consumer, producer, health) as forwarder:
        assert forwarder.run_once() == 0.0
        assert consumer.subscribed == [RETRY] and health.ready
        assert producer.produced == [("nearline.transfer-put", b"now", [(ATTEMPT, b"1")])]
        # Committed up to the record still waiting, so that a restart forwards it.
        assert [(tp.partition, tp.offset) for tp in consumer.committed[-1]] == [(0, 1)]
        forwarder.run_once()
        assert len(producer.produced) == 1 and forwarder.forwarded == 1
    assert consumer.closed


def test_a_record_without_a_target_is_dropped():
    stray = Message(0, [], b"stray")
    consumer, producer = Consumer([[stray]]), Producer()
    forwarder = Forwarder(consumer, producer, Health())
    forwarder.run_once()
    assert forwarder.waiting == [] and producer.produced == []


def test_a_record_comes_back_once_due():
    soon = Message(0, retry_headers("nearline.indexer", 1, 0.2, "down"), b"soon")
    consumer, producer = Consumer([[soon]]), Producer()
    forwarder = Forwarder(consumer, producer, Health())
    forwarder.run_once()
    assert producer.produced == []
    time.sleep(0.25)
    forwarder.run_once()
    assert [value for _, value, _ in producer.produced] == [b"soon"]


def test_only_the_wait_for_the_first_record_blocks():
    """A wait for a full batch would hold a record that comes meanwhile, and is due
    sooner than the next one waiting, until the wait ended."""
    later = Message(0, retry_headers("nearline.indexer", 1, 3600.0, "down"), b"later")
    soon = Message(1, retry_headers("nearline.indexer", 1, 0.0, "down"), b"soon")
    consumer, producer = Consumer([[later], [], [soon]]), Producer()
    forwarder = Forwarder(consumer, producer, Health())
    for _ in range(3):
        forwarder.run_once()
    assert [value for _, value, _ in producer.produced] == [b"soon"]
    assert [wait for call, wait in consumer.waits if call == "poll"] == [1.0, 1.0, 1.0]
    assert all(wait == 0 for call, wait in consumer.waits if call == "consume")
