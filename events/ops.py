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
        return cls(
            event_id=event_id_for(
                "dead-letter", error.topic or "", str(error.partition), str(error.offset)
            ),
            transaction_id="",
            user="",
            group="",
            cause_id=None,
            occurred_at=int(time.time() * 1000),
            reason=str(error),
            kind=error.reason,
            source_topic=error.topic or "",
            source_partition=error.partition or 0,
            source_offset=error.offset or 0,
            key=key,
            value=value,
        )
