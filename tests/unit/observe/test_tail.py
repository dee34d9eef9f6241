"""Records shown to people: every field readable, bytes escaped, foreign records kept."""

from __future__ import annotations

import json

from events.codec import decode
from events.vectors import VECTORS_FOLDER, read_vectors
from nearline.observe.tail import readable, record_view


def test_bytes_become_text_with_non_utf8_bytes_escaped():
    assert readable(b"/data/caf\xc3\xa9/bad-\xff.nc") == "/data/café/bad-\\xff.nc"
    assert readable({"paths": [b"a\xfe", "b"]}) == {"paths": ["a\\xfe", "b"]}


def test_every_event_type_is_shown_as_json_with_its_type():
    shown = 0
    for path in sorted(VECTORS_FOLDER.rglob("*")):
        if not path.is_file():
            continue
        for record in read_vectors(path):
            event = decode(record)
            view = record_view("nearline.catalog", 2, 7, b"nl-alice", record)
            assert view["type"] == event.schema_name and view["event"]["event_id"] == event.event_id
            assert (view["partition"], view["offset"], view["key"]) == (2, 7, "nl-alice")
            json.dumps(view)  # nothing left that JSON cannot hold
            shown += 1
    assert shown > 20


def test_a_foreign_record_is_shown_with_its_reason():
    view = record_view("nearline.index", 0, 3, None, b"junk \xff")
    assert view["type"] is None and "not an Avro" in view["undecodable"]
    assert view["value"] == "junk \\xff"
