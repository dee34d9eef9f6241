"""One turn of the RabbitMQ consumer: take the messages waiting on SciCat's queue, record
each job they hand over on ``nearline.scicat`` (keyed by job id), and acknowledge each
message only once Kafka has its job, so a crash loses none (a repeat is the same event).
A message that is no job for nearline is acknowledged and logged, never retried."""

from __future__ import annotations

import contextlib
import logging

import pika
from confluent_kafka import Producer
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError

from events.codec import encode
from events.scicat import ScicatJobReceived
from events.topics import SCICAT
from nearline.settings import ScicatSettings
from processors.scicat_rabbitmq.messages import Skipped, job_received

log = logging.getLogger("nearline.scicat.rabbitmq")

BATCH = 100  # messages a turn at most
IDLE_S = 1.0  # wait between turns when the queue is empty


class QueueConsumer:
    def __init__(self, settings: ScicatSettings, producer: Producer) -> None:
        self.settings = settings
        self.producer = producer
        self.connection: pika.BlockingConnection | None = None
        self.channel: BlockingChannel | None = None

    def run_once(self) -> float:
        if not self.settings.rabbitmq_url.get_secret_value():
            return 60.0  # not configured: nothing to consume
        channel = self._channel()
        for _ in range(BATCH):
            method, _properties, body = channel.basic_get(self.settings.rabbitmq_queue)
            if method is None:
                return IDLE_S
            decided = job_received(body, self.settings.account, self.settings.group)
            if isinstance(decided, Skipped):
                log.info("skipping a SciCat message: %s", decided.reason)
            else:
                self._record(decided)
            channel.basic_ack(method.delivery_tag)
        return 0.0

    def _record(self, event: ScicatJobReceived) -> None:
        self.producer.produce(SCICAT, key=event.job_id.encode(), value=encode(event))
        if self.producer.flush(30):
            raise RuntimeError(f"the SciCat job {event.job_id} was not recorded")
        log.info("recorded SciCat %s job %s", event.job_type, event.job_id)

    def _channel(self) -> BlockingChannel:
        if (
            self.connection is None
            or self.connection.is_closed
            or self.channel is None
            or self.channel.is_closed  # a channel-level error leaves the connection open
        ):
            with contextlib.suppress(AMQPError):
                self.close()
            parameters = pika.URLParameters(self.settings.rabbitmq_url.get_secret_value())
            self.connection = pika.BlockingConnection(parameters)
            self.channel = self.connection.channel()
            # The queue SciCat's action declares; declared alike, so either may start first.
            self.channel.queue_declare(self.settings.rabbitmq_queue, durable=True)
        return self.channel

    def close(self) -> None:
        if self.connection is not None and self.connection.is_open:
            self.connection.close()
