"""Operational events: records set aside on the dead-letter topic.
Fields are documented in ``schemas/ops/``."""

from __future__ import annotations

import time
from typing import ClassVar

from events.base import Event, event_id_for, event_type
from events.codec import UndecodableRecord


@event_type
class RecordDeadLettered(Event):
    """A record that could not be decoded or was invalid, kept with its reason."""

    schema_name: ClassVar[str] = "nearline.ops.RecordDeadLettered"

    reason: str
    kind: str
    source_topic: str
    source_partition: int
    source_offset: int
    key: bytes | None
    value: bytes

    @classmethod
    def of(cls, error: UndecodableRecord, value: bytes, key: bytes | None) -> RecordDeadLettered:
        """The dead letter for a record the codec refused."""
        return cls.refused(
            error.topic or "",
            error.partition or 0,
            error.offset or 0,
            kind=error.reason,
            reason=str(error),
            value=value,
            key=key,
        )

    @classmethod
    def refused(
        cls,
        topic: str,
        partition: int,
        offset: int,
        *,
        kind: str,
        reason: str,
        value: bytes,
        key: bytes | None,
        about: Event | None = None,
    ) -> RecordDeadLettered:
        """The dead letter for the record at ``topic[partition]@offset``; ``about`` is
        the decoded event, when there is one, whose envelope the letter keeps."""
        return cls(
            event_id=event_id_for("dead-letter", topic, str(partition), str(offset)),
            transaction_id=about.transaction_id if about else "",
            user=about.user if about else "",
            group=about.group if about else "",
            cause_id=about.event_id if about else None,
            occurred_at=int(time.time() * 1000),
            reason=reason,
            kind=kind,
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            key=key,
            value=value,
        )
