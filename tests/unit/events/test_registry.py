"""The registry finds every schema version by fingerprint and by name."""

from __future__ import annotations

import json

import pytest
from fastavro.schema import fingerprint

from events.registry import SchemaFileError, SchemaRegistry, default_registry
from events.requests import GetRequested, PutRequested
from tests.unit.events.helpers import write_schema

REQUESTS = {
    f"nearline.requests.{n}"
    for n in ("PutRequested", "GetRequested", "DeleteRequested", "MetaRequested")
}


def test_default_registry_holds_the_request_family():
    registry = default_registry()
    assert registry is default_registry()  # loaded once
    assert set(registry.names()) >= REQUESTS
    put = registry.latest("nearline.requests.PutRequested")
    assert put.version >= 1
    assert registry.by_fingerprint(put.fingerprint) is put
    assert registry.find(put.fingerprint) is put
    assert registry.history(put.name)[-1] is put
    assert put.header == b"\xc3\x01" + put.fingerprint
    assert put.field_names[:2] == ("event_id", "transaction_id")


def test_unknown_fingerprint_is_none_or_keyerror():
    registry = default_registry()
    assert registry.find(bytes(8)) is None
    with pytest.raises(KeyError, match="0000000000000000"):
        registry.by_fingerprint(bytes(8))


def test_canonical_forms_are_keyed_by_fastavro_fingerprint_hex():
    forms = default_registry().canonical_forms()
    assert len(forms) == len(default_registry().versions())
    for key, canonical in forms.items():
        assert key == fingerprint(canonical, "CRC-64-AVRO")
        assert json.loads(canonical)["type"] == "record"


def test_names_resolve_to_their_event_classes():
    registry = default_registry()
    assert registry.event_class("nearline.requests.PutRequested") is PutRequested
    assert registry.event_class("nearline.requests.GetRequested") is GetRequested
    with pytest.raises(LookupError):
        registry.event_class("nearline.nosuchfamily.Thing")


def test_a_folder_of_versions_orders_them_and_finds_the_latest(tmp_path):
    write_schema(
        tmp_path,
        "testing",
        "Sample",
        2,
        [{"name": "size", "type": "long", "default": 0, "doc": "Bytes."}],
    )
    write_schema(tmp_path, "testing", "Sample", 1, [])
    registry = SchemaRegistry(tmp_path)
    assert [v.version for v in registry.history("nearline.testing.Sample")] == [1, 2]
    assert registry.latest("nearline.testing.Sample").version == 2


@pytest.mark.parametrize(
    ("file_name", "content", "message"),
    [
        ("Sample.avsc", None, "v<N>"),
        ("Other.v1.avsc", None, "named"),
        ("Sample.v1.avsc", "{not json", "not a valid Avro schema"),
        ("Sample.v1.avsc", '"string"', "must be a record"),
    ],
)
def test_bad_schema_files_are_refused(tmp_path, file_name, content, message):
    path = write_schema(tmp_path, "testing", "Sample", 1, [])
    target = path.with_name(file_name)
    path.rename(target)
    if content is not None:
        target.write_text(content)
    with pytest.raises(SchemaFileError, match=message):
        SchemaRegistry(tmp_path)


def test_a_version_identical_to_another_is_refused(tmp_path):
    write_schema(tmp_path, "testing", "Sample", 1, [])
    write_schema(tmp_path, "testing", "Sample", 2, [], doc="Only the doc differs.")
    with pytest.raises(SchemaFileError, match="same canonical form"):
        SchemaRegistry(tmp_path)


def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(SchemaFileError, match="no such schema folder"):
        SchemaRegistry(tmp_path / "absent")
