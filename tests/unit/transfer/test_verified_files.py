"""A fetched file appears in place only complete and verified; otherwise nothing changes."""

from __future__ import annotations

import hashlib
import os

import pytest

from stores.s3.verified_files import (
    PARTIAL_SUFFIX,
    ContentMismatch,
    partial_path,
    write_verified,
)

DATA = os.urandom(100_000)
SHA256 = hashlib.sha256(DATA).hexdigest()


def chunks(data: bytes, size: int = 30_000) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_verified_content_lands_in_place(tmp_path):
    target = bytes(tmp_path / "file")
    checksums = write_verified(chunks(DATA), target, SHA256.upper(), len(DATA))
    assert checksums.sha256 == SHA256 and checksums.size == len(DATA)
    assert (tmp_path / "file").read_bytes() == DATA
    assert os.listdir(tmp_path) == ["file"]


@pytest.mark.parametrize(
    "data", [DATA[:-1], DATA + b"x", b"y" + DATA[1:]], ids=["short", "long", "altered"]
)
def test_wrong_content_leaves_nothing(tmp_path, data):
    with pytest.raises(ContentMismatch):
        write_verified(chunks(data), bytes(tmp_path / "file"), SHA256, len(DATA))
    assert os.listdir(tmp_path) == []


def test_an_existing_target_is_kept_unless_the_content_is_verified(tmp_path):
    target = tmp_path / "file"
    target.write_bytes(b"before")
    with pytest.raises(ContentMismatch):
        write_verified(chunks(b"bad"), bytes(target), SHA256, len(DATA))
    assert target.read_bytes() == b"before"
    write_verified(chunks(DATA), bytes(target), SHA256, len(DATA))
    assert target.read_bytes() == DATA


def test_too_much_data_stops_before_it_is_written(tmp_path):
    written: list[int] = []

    def endless():
        while True:
            written.append(1)
            yield b"z" * 1000

    with pytest.raises(ContentMismatch):
        write_verified(endless(), bytes(tmp_path / "file"), SHA256, 5000)
    assert len(written) == 6
    assert os.listdir(tmp_path) == []


def test_a_failing_stream_leaves_nothing(tmp_path):
    def broken():
        yield DATA[:1000]
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        write_verified(broken(), bytes(tmp_path / "file"), SHA256, len(DATA))
    assert os.listdir(tmp_path) == []


def test_partial_names_are_hidden_unique_and_short_enough(tmp_path):
    target = bytes(tmp_path) + b"/" + b"n" * 255
    first, second = partial_path(target), partial_path(target)
    assert first != second
    name = os.path.basename(first)
    assert name.startswith(b".n") and name.endswith(PARTIAL_SUFFIX) and len(name) <= 255
    assert os.path.dirname(first) == bytes(tmp_path)
