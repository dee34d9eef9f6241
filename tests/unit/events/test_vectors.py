"""Every schema version ever written has committed vectors, and the current code decodes
them all: records written with any older version stay readable."""

from __future__ import annotations

import pytest

from events.codec import Codec
from events.registry import default_registry
from events.vectors import (
    VECTORS_FOLDER,
    encode_vectors,
    missing,
    read_vectors,
    vector_path,
    write_missing,
)

REGISTRY = default_registry()
FILES = sorted(VECTORS_FOLDER.rglob("*.bin"))


def test_every_schema_version_has_vectors():
    assert missing(REGISTRY) == [], "run `python -m events.vectors --write` and commit them"


@pytest.mark.parametrize("codec", [Codec(), Codec(compiled=False)], ids=["compiled", "fastavro"])
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_vector_decodes_with_the_current_code(path, codec):
    records = read_vectors(path)
    assert records
    for data in records:
        writer = REGISTRY.by_fingerprint(data[2:10])
        assert vector_path(writer, REGISTRY) == path  # written with that exact version
        event = codec.decode(data)
        assert type(event) is REGISTRY.event_class(writer.name)
        if writer is REGISTRY.latest(writer.name):
            assert codec.encode(event) == data  # the same bytes, written again


def test_vectors_are_written_once_and_never_replaced(tmp_path):
    written = write_missing(REGISTRY, tmp_path)
    assert len(written) == len(REGISTRY.versions())
    first = written[0]
    assert first.read_bytes() == encode_vectors(REGISTRY.versions()[0])
    first.write_bytes(b"kept")
    assert write_missing(REGISTRY, tmp_path) == []
    assert first.read_bytes() == b"kept"


def test_a_cut_vector_file_is_refused(tmp_path):
    path = tmp_path / "cut.bin"
    path.write_bytes(FILES[0].read_bytes()[:-1])
    with pytest.raises(ValueError, match="cut short"):
        read_vectors(path)
