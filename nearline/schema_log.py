"""Writer schemas from the ``_schemas`` topic, for records newer than this code.

Every process publishes the schema versions it writes with (``bus.publish_schemas``). A
process whose own ``schemas/`` folder lacks a fingerprint, because a newer version of an
event was rolled out to the writers first, looks it up here and reads those records as
the newest version it knows. The topic is small and compacted; it is read again at most
every ``refresh_s`` seconds, so that a burst of foreign records costs one read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from events.topics import SCHEMAS_TOPIC
from nearline import bus
from nearline.settings import Settings

log = logging.getLogger(__name__)


class SchemaLog:
    def __init__(
        self,
        settings: Settings,
        refresh_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.refresh_s = refresh_s
        self.clock = clock
        self._canonical: dict[str, str] = {}
        self._read_at: float | None = None

    def __call__(self, fingerprint: bytes) -> str | None:
        """The Parsing Canonical Form published under ``fingerprint``, if any."""
        key = fingerprint.hex()
        if key not in self._canonical and self._stale():
            self._read()
        return self._canonical.get(key)

    def _stale(self) -> bool:
        return self._read_at is None or self.clock() - self._read_at >= self.refresh_s

    def _read(self) -> None:
        self._read_at = self.clock()
        reader: Consumer = bus.consumer(self.settings, "nearline-schema-log")
        try:
            _, end = reader.get_watermark_offsets(TopicPartition(SCHEMAS_TOPIC, 0), timeout=10)
            reader.assign([TopicPartition(SCHEMAS_TOPIC, 0, OFFSET_BEGINNING)])
            position = 0
            while position < end:
                message = reader.poll(5)
                if message is None:
                    break
                if message.error() is None:
                    position = (message.offset() or 0) + 1
                    key, value = message.key(), message.value()
                    if key and value:
                        self._canonical[key.decode(errors="replace")] = value.decode(
                            errors="replace"
                        )
        except Exception as error:  # the broker away: unknown for now, asked again later
            log.warning("could not read %s: %s", SCHEMAS_TOPIC, error)
        finally:
            reader.close()


def learn_writer_schemas(settings: Settings) -> None:
    """Let this process's codec read newer versions published on ``_schemas``."""
    from events.codec import default_codec

    default_codec().writer_schemas = SchemaLog(settings)
