"""A job's journal: the steps the adapter has already done for one SciCat job, folded
from ``nearline.scicat``, and the recording of each new step there (decision D172).

Each step has a deterministic event id (job, dataset, step), and the adapter does a step
only when the journal lacks it; once done, the step is on the log before the next one
begins. After a restart the same job is handed over again, its journal is folded again
from the log, and the steps already recorded are not done again: their recorded
details (a holding id, a nearline transaction) are what the later steps use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from confluent_kafka import Consumer, TopicPartition

from events.base import Event, event_id_for
from events.codec import UndecodableRecord, decode, encode
from events.scicat import ScicatJobReceived, ScicatStepRecorded
from events.topics import REQUESTS, SCICAT
from nearline import bus
from nearline.partitioning import partition_for
from nearline.settings import Settings
from processors.app import now_ms

OK = "ok"
USER_ERROR = "user-error"
SYSTEM_ERROR = "system-error"
JOB = ""  # the dataset pid of a step of the whole job


@dataclass(frozen=True)
class Done:
    """What a recorded step found."""

    outcome: str
    detail: str
    transaction_id: str | None = None


class Steps(Protocol):
    """The log, as the adapter uses it."""

    def fold(self, job_id: str) -> dict[tuple[str, str], ScicatStepRecorded]:
        """The steps recorded for the job so far, by (dataset pid, step)."""
        ...

    def record(self, step: ScicatStepRecorded) -> None:
        """Append a step, and return once the log has it."""
        ...

    def request(self, event: Event) -> None:
        """Append a nearline request (a PUT or GET as ``scicat.account``)."""
        ...


class Journal:
    """The steps of one job: those already on the log, and new ones as they are done."""

    def __init__(self, job: ScicatJobReceived, steps: Steps) -> None:
        self.job = job
        self.steps = steps
        self.done = steps.fold(job.job_id)

    def get(self, pid: str, step: str) -> Done | None:
        found = self.done.get((pid, step))
        if found is None:
            return None
        return Done(found.outcome, found.detail, found.nearline_transaction_id)

    def once(self, pid: str, step: str, do: Callable[[], Done]) -> Done:
        """Do ``step`` for ``pid`` unless the journal has it; record what it found."""
        done = self.get(pid, step)
        if done is None:
            done = do()
            self.record(pid, step, done)
        return done

    def record(self, pid: str, step: str, done: Done) -> None:
        if (pid, step) in self.done:
            return
        event = ScicatStepRecorded(
            event_id=event_id_for(self.job.job_id, "scicat", pid, step),
            transaction_id=self.job.job_id,
            user=self.job.user,
            group=self.job.group,
            cause_id=self.job.event_id,
            occurred_at=now_ms(),
            job_id=self.job.job_id,
            dataset_pid=pid,
            step=step,
            outcome=done.outcome,
            detail=done.detail,
            nearline_transaction_id=done.transaction_id,
        )
        self.steps.record(event)
        self.done[(pid, step)] = event


class KafkaSteps:
    """Steps on ``nearline.scicat``: a job's are in the partition of its id."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = bus.producer(settings)
        self._consumer: Consumer | None = None

    def fold(self, job_id: str) -> dict[tuple[str, str], ScicatStepRecorded]:
        partition = partition_for(job_id.encode(), self.settings.kafka.partitions)
        found: dict[tuple[str, str], ScicatStepRecorded] = {}
        consumer = self._reader()
        low, high = consumer.get_watermark_offsets(TopicPartition(SCICAT, partition), 30)
        if high <= low:
            return found
        consumer.assign([TopicPartition(SCICAT, partition, low)])
        try:
            position = low
            while position < high:
                message = consumer.poll(5.0)
                if message is None:
                    continue
                if message.error():
                    raise RuntimeError(f"reading {SCICAT}[{partition}]: {message.error()}")
                position = (message.offset() or position) + 1
                try:
                    event = decode(message.value() or b"")
                except UndecodableRecord:
                    continue  # the dead-letter topic's business, not a step
                if isinstance(event, ScicatStepRecorded) and event.job_id == job_id:
                    found.setdefault((event.dataset_pid, event.step), event)
        finally:
            consumer.unassign()
        return found

    def _reader(self) -> Consumer:
        """One consumer for every fold (it commits nothing; its group is never joined)."""
        if self._consumer is None:
            self._consumer = bus.consumer(self.settings, group="nearline-scicat-fold")
        return self._consumer

    def record(self, step: ScicatStepRecorded) -> None:
        self._send(SCICAT, step.job_id, step)

    def request(self, event: Event) -> None:
        self._send(REQUESTS, event.user, event)

    def _send(self, topic: str, key: str, event: Event) -> None:
        self.producer.produce(topic, key=key.encode(), value=encode(event))
        if self.producer.flush(30):
            raise RuntimeError(f"{event.schema_name} for {key} was not recorded on {topic}")
