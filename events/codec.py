"""Events to bytes and back: Avro single-object encoding.

A record is ``C3 01``, the 8-byte little-endian CRC-64-AVRO fingerprint of its writer
schema, then the Avro binary body. Events are always written with the latest version of
their schema; any version ever written can be read, resolved to the latest version.

Errors in the data raise ``UndecodableRecord`` (a poison record, for the dead-letter
topic). Errors in the code or the deployment (an event class that does not match its
schema, a schema without a class) raise other exceptions: they must stop a processor
rather than send good records to the dead-letter topic.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from contextlib import suppress
from dataclasses import fields
from io import BytesIO
from operator import attrgetter
from typing import Any, Literal

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.schema import fingerprint as schema_fingerprint

from events.base import Event
from events.compiled import Rejected, Unsupported, compile_decoder, compile_encoder
from events.registry import MARKER, SchemaRegistry, SchemaVersion, default_registry

HEADER_SIZE = 10

Reason = Literal["not-avro", "unknown-fingerprint", "truncated", "corrupt", "invalid"]


class UndecodableRecord(ValueError):
    """Bytes that cannot become an event. ``reason`` says why:

    - ``not-avro``: no single-object marker, or too short for a header;
    - ``unknown-fingerprint``: no schema version here has the header's fingerprint;
    - ``truncated``: the body ends early; ``corrupt``: the body is not valid for its
      schema, or bytes follow it;
    - ``invalid``: the body decoded, but cannot be read as the current version of its
      schema or its event class refused the values.

    ``decode_message`` adds where the record was: ``topic``, ``partition`` and ``offset``.
    """

    def __init__(
        self,
        reason: Reason,
        detail: str,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ):
        self.reason: Reason = reason
        self.detail = detail
        self.topic = topic
        self.partition = partition
        self.offset = offset
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.topic is None:
            return self.detail
        return f"{self.topic}[{self.partition}]@{self.offset}: {self.detail}"

    def located(self, topic: str, partition: int, offset: int) -> UndecodableRecord:
        """The same error, naming where the record was read."""
        return UndecodableRecord(
            self.reason, self.detail, topic=topic, partition=partition, offset=offset
        )


Encoder = Callable[[Event], bytes]
Decoder = Callable[[bytes], Event]
WriterSchemas = Callable[[bytes], str | None]
"""Fingerprint to Parsing Canonical Form of writer schemas this code lacks (``None`` if
unknown there too): the ``_schemas`` topic, through ``nearline.schema_log``."""


class Codec:
    """Encodes and decodes the events of one registry, with encoders and decoders built
    on first use per event class and per writer fingerprint.

    ``compiled=False`` uses fastavro alone (the benchmark compares the two; tests check
    they agree).
    """

    def __init__(self, registry: SchemaRegistry | None = None, *, compiled: bool = True):
        self.registry = registry if registry is not None else default_registry()
        self.compiled = compiled
        self._encoders: dict[type[Event], Encoder] = {}
        self._decoders: dict[bytes, Decoder] = {}
        self._names: dict[bytes, str] = {}
        self.writer_schemas: WriterSchemas | None = None
        """Where to look up a writer schema newer than this code (see ``_learned``)."""

    def encode(self, event: Event) -> bytes:
        """The single-object encoding of ``event``, with the latest version of its schema."""
        encoder = self._encoders.get(type(event))
        if encoder is None:
            encoder = self._encoders[type(event)] = self._encoder(type(event))
        return encoder(event)

    def decode(self, data: bytes) -> Event:
        """The event in ``data``, read as the latest version of its schema.

        Raises ``UndecodableRecord`` when ``data`` is not a record of a known schema.
        """
        if type(data) is not bytes:
            # bytearray or memoryview; None is a Kafka tombstone, which no event is.
            data = bytes(data) if data is not None else b""
        decoder = self._decoders.get(data[:HEADER_SIZE])
        if decoder is None:
            decoder = self._decoder(data)
        try:
            return decoder(data)
        except Rejected as error:
            raise UndecodableRecord("invalid", f"{_name(data, self)}: {error.__cause__}") from None
        except SchemaResolutionError as error:
            raise UndecodableRecord("invalid", f"{_name(data, self)}: {error}") from None
        except (EOFError, IndexError, struct.error) as error:
            raise UndecodableRecord(
                "truncated", f"{_name(data, self)}: body ends early ({error})"
            ) from None
        except Exception as error:  # any other failure reading the body means bad bytes
            raise UndecodableRecord(
                "corrupt", f"{_name(data, self)}: corrupt body ({type(error).__name__}: {error})"
            ) from None

    def schema_name(self, data: bytes) -> str | None:
        """The full schema name of ``data``'s writer schema, read from its header alone;
        None when this registry does not know the header (it may still decode: a newer
        version learned from ``_schemas``, or not an event at all)."""
        header = data[:HEADER_SIZE]
        name = self._names.get(header)
        if name is None:
            version = self.registry.find(header[2:]) if header[:2] == MARKER else None
            if version is None:
                return None  # not kept: any bytes can be a header
            name = self._names[header] = version.name
        return name

    def decode_kind(self, data: bytes, kinds: frozenset[str] | None) -> Event | None:
        """``decode``; or None, without decoding, when ``data``'s header names a known
        schema not in ``kinds`` (None: any). The way for bulk reading: one call per record
        on the path of a well-formed one."""
        header = data[:HEADER_SIZE]
        if kinds is not None:
            name = self._names.get(header) or self.schema_name(data)
            if name is not None and name not in kinds:
                return None
        decoder = self._decoders.get(header)
        if decoder is not None and type(data) is bytes:
            try:
                return decoder(data)
            except Exception:
                pass  # ``decode`` says what is wrong with it
        return self.decode(data)

    def decode_message(self, data: bytes, *, topic: str, partition: int, offset: int) -> Event:
        """``decode`` for a Kafka message; errors name the topic, partition and offset."""
        try:
            return self.decode(data)
        except UndecodableRecord as error:
            raise error.located(topic, partition, offset) from None

    def _encoder(self, cls: type[Event]) -> Encoder:
        latest = self.registry.latest(cls.schema_name)
        names = _check_fields(cls, latest)
        values = attrgetter(*names)
        schema, header = latest.parsed, latest.header

        def with_fastavro(event: Event) -> bytes:
            buffer = BytesIO()
            buffer.write(header)
            schemaless_writer(buffer, schema, dict(zip(names, values(event), strict=True)))
            return buffer.getvalue()

        if self.compiled:
            with suppress(Unsupported):  # fastavro writes what the generator cannot
                return compile_encoder(schema, header, with_fastavro)
        return with_fastavro

    def _decoder(self, data: bytes) -> Decoder:
        """The decoder for ``data``'s header, made and kept; raises UndecodableRecord for a
        header that is not one."""
        if len(data) < HEADER_SIZE or data[:2] != MARKER:
            raise UndecodableRecord(
                "not-avro", f"not an Avro single-object record ({_preview(data)})"
            )
        fingerprint = data[2:HEADER_SIZE]
        writer = self.registry.find(fingerprint)
        decoder = self._learned(fingerprint) if writer is None else self._known(writer)
        self._decoders[data[:HEADER_SIZE]] = decoder
        return decoder

    def _known(self, writer: SchemaVersion) -> Decoder:
        latest = self.registry.latest(writer.name)
        cls = self.registry.event_class(writer.name)
        _check_fields(cls, latest)
        if self.compiled and writer is latest:
            with suppress(Unsupported):  # fastavro reads what the generator cannot
                return compile_decoder(latest.parsed, cls, HEADER_SIZE)
        return _fastavro_decoder(writer.parsed, None if writer is latest else latest.parsed, cls)

    def _learned(self, fingerprint: bytes) -> Decoder:
        """A decoder for a writer schema this code does not have: a newer version of a
        known event, published on ``_schemas`` by a newer writer. Its records are read as
        the latest version known here (Avro resolution: fields added since are skipped),
        so running processors read new versions before they are upgraded themselves."""
        unknown = UndecodableRecord(
            "unknown-fingerprint", f"unknown schema fingerprint {fingerprint.hex()}"
        )
        canonical = self.writer_schemas(fingerprint) if self.writer_schemas else None
        if canonical is None:
            raise unknown
        try:
            if schema_fingerprint(canonical, "CRC-64-AVRO") != fingerprint.hex():
                raise ValueError("published under another fingerprint")
            writer = parse_schema(json.loads(canonical), named_schemas={})
            if not isinstance(writer, dict) or writer.get("type") != "record":
                raise ValueError("not a record schema")
            latest = self.registry.latest(writer["name"])
            cls = self.registry.event_class(writer["name"])
        except (ValueError, KeyError, LookupError) as error:  # foreign or damaged
            raise UndecodableRecord(
                "unknown-fingerprint",
                f"schema fingerprint {fingerprint.hex()} on _schemas is unusable: {error}",
            ) from None
        _check_fields(cls, latest)
        return _fastavro_decoder(writer, latest.parsed, cls)


def _fastavro_decoder(
    writer: dict[str, Any], reader: dict[str, Any] | None, cls: type[Event]
) -> Decoder:
    """Reading with fastavro, resolving another writer version to ``reader`` if given."""

    def decode(data: bytes) -> Event:
        buffer = BytesIO(data)
        buffer.seek(HEADER_SIZE)
        try:
            record = schemaless_reader(buffer, writer, reader)
        except IndexError as error:
            # fastavro raises IndexError both past the end of the data and for an
            # out-of-range union or enum index: only the first is truncation.
            if buffer.tell() >= len(data):
                raise EOFError(str(error)) from error
            raise ValueError(f"index out of range ({error})") from error
        left = len(data) - buffer.tell()
        if left:
            raise ValueError(f"{left} bytes after the record")
        if not isinstance(record, dict):
            raise ValueError("not a record")  # cannot happen: event schemas are records
        try:
            return cls(**record)
        except Exception as error:
            raise Rejected(error) from error

    return decode


def _check_fields(cls: type[Event], latest: SchemaVersion) -> tuple[str, ...]:
    names = tuple(f.name for f in fields(cls))
    if names != latest.field_names:
        raise TypeError(
            f"{cls.__qualname__} has fields {names}, but {latest.path.name} has "
            f"{latest.field_names}: the class must mirror the latest schema version"
        )
    return names


def _name(data: bytes, codec: Codec) -> str:
    version = codec.registry.find(data[2:HEADER_SIZE])
    return f"{version.name} v{version.version}" if version else "record"


def _preview(data: bytes) -> str:
    return f"{len(data)} bytes, starting {data[:4].hex() or 'with nothing'}"


_default: Codec | None = None


def default_codec() -> Codec:
    """The codec of the default registry, made on first use."""
    global _default
    if _default is None:
        _default = Codec()
    return _default


def encode(event: Event) -> bytes:
    """The single-object encoding of ``event`` (latest schema version)."""
    return (_default or default_codec()).encode(event)


def decode(data: bytes) -> Event:
    """The event in ``data``; raises ``UndecodableRecord`` for anything else."""
    return (_default or default_codec()).decode(data)


def decode_message(data: bytes, *, topic: str, partition: int, offset: int) -> Event:
    """``decode`` for a Kafka message: an ``UndecodableRecord`` names where it was, e.g.
    ``nearline.requests[3]@1234: unknown schema fingerprint 0011223344556677``."""
    return (_default or default_codec()).decode_message(
        data, topic=topic, partition=partition, offset=offset
    )
