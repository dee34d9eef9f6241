"""Records written with a schema version newer than this code: read through the writer
schema found on ``_schemas`` (here a dictionary), as the latest version known here."""

from __future__ import annotations

import dataclasses
import json
from io import BytesIO

import pytest
from fastavro import parse_schema, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form

from events.codec import Codec, UndecodableRecord
from events.registry import default_registry
from tests.unit.events.helpers import typical_put


def newer(name: str = "nearline.requests.PutRequested") -> dict:
    source = json.loads(json.dumps(default_registry().latest(name).source))
    source["fields"].append({"name": "priority", "type": "int", "default": 0})
    return source


def written_with(source: dict, values: dict) -> tuple[bytes, str, str]:
    canonical = to_parsing_canonical_form(source)
    key = fingerprint(canonical, "CRC-64-AVRO")
    body = BytesIO()
    body.write(b"\xc3\x01" + bytes.fromhex(key))
    schemaless_writer(body, parse_schema(source), values)
    return body.getvalue(), key, canonical


def codec_knowing(published: dict[str, str]) -> Codec:
    codec = Codec()
    codec.writer_schemas = lambda fp: published.get(fp.hex())
    return codec


def test_a_newer_version_is_read_as_the_latest_known_one():
    event = typical_put()
    data, key, canonical = written_with(newer(), {**dataclasses.asdict(event), "priority": 9})
    assert codec_knowing({key: canonical}).decode(data) == event


def test_without_the_topic_a_newer_version_is_an_unknown_fingerprint():
    event = typical_put()
    data, _, _ = written_with(newer(), {**dataclasses.asdict(event), "priority": 9})
    with pytest.raises(UndecodableRecord) as raised:
        Codec().decode(data)
    assert raised.value.reason == "unknown-fingerprint"
    with pytest.raises(UndecodableRecord) as raised:
        codec_knowing({}).decode(data)
    assert raised.value.reason == "unknown-fingerprint"


def test_a_schema_published_under_another_fingerprint_is_refused():
    event = typical_put()
    data, key, _ = written_with(newer(), {**dataclasses.asdict(event), "priority": 9})
    other = to_parsing_canonical_form(
        default_registry().latest("nearline.requests.PutRequested").source
    )
    with pytest.raises(UndecodableRecord, match="unusable"):
        codec_knowing({key: other}).decode(data)


def test_a_schema_of_an_event_this_code_does_not_know_is_refused():
    source = {"type": "record", "name": "Foreign", "namespace": "elsewhere", "fields": [
        {"name": "x", "type": "int"}]}  # fmt: skip
    data, key, canonical = written_with(source, {"x": 1})
    with pytest.raises(UndecodableRecord, match="unusable"):
        codec_knowing({key: canonical}).decode(data)
