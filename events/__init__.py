"""nearline's events: classes, Avro single-object codec, schema registry and topics.

Importing the package registers every event family, so that any record can be decoded.
"""

from events.base import Event, event_id_for, event_type
from events.codec import Codec, UndecodableRecord, decode, decode_message, encode
from events.registry import SchemaRegistry, SchemaVersion, default_registry
from events.requests import DeleteRequested, GetRequested, MetaRequested, PutRequested
from events.topics import SCHEMAS_TOPIC, TOPICS, Topic, topics

__all__ = [
    "SCHEMAS_TOPIC",
    "TOPICS",
    "Codec",
    "DeleteRequested",
    "Event",
    "GetRequested",
    "MetaRequested",
    "PutRequested",
    "SchemaRegistry",
    "SchemaVersion",
    "Topic",
    "UndecodableRecord",
    "decode",
    "decode_message",
    "default_registry",
    "encode",
    "event_id_for",
    "event_type",
    "topics",
]
