"""Writing files: streamed, checksummed against the server, idempotent, then migrated."""

from __future__ import annotations

import os
import zlib

import pytest

from stores.tape.endpoint import (
    TapeChecksumMismatch,
    TapeConflict,
    TapeEndpoint,
    TapeNotFound,
)
from tests.integration.tape.helpers import archived


def chunks_of(data: bytes, size: int = 1024 * 1024):
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_a_streamed_file_has_the_servers_checksum_and_reads_back(endpoint, folder):
    data = os.urandom(5 * 1024 * 1024 + 17)
    path = f"{folder}/aggregate.tar"

    written = endpoint.write(path, chunks_of(data))

    assert written.size == len(data)
    assert written.adler32 == f"{zlib.adler32(data):08x}"
    assert not written.reused
    assert endpoint.checksum(path) == written.adler32
    assert endpoint.read_range(path, 0, len(data)) == data
    assert endpoint.read_range(path, 1000, 10) == data[1000:1010]


def test_a_written_file_is_migrated_to_tape_with_its_checksum(endpoint, folder, layout):
    data = os.urandom(300_000)
    path = f"{folder}/migrated.tar"
    written = endpoint.write(path, chunks_of(data))

    archived(endpoint, path)

    lfn = f"{endpoint.root}/{path}".lstrip("/")
    assert (layout.media / lfn).read_bytes() == data
    assert (layout.catalogue / lfn).read_text().split() == [written.adler32, str(len(data))]
    state = endpoint.stat(path)
    assert (state.size, state.online, state.on_tape) == (len(data), True, True)


def test_writing_the_same_file_again_reuses_it(endpoint, folder, layout):
    data = os.urandom(200_000)
    path = f"{folder}/again.tar"
    first = endpoint.write(path, chunks_of(data))
    archived(endpoint, path)
    buffer_copy = layout.buffer / f"{endpoint.root}/{path}".lstrip("/")
    before = buffer_copy.stat()

    second = endpoint.write(path, chunks_of(data, 4096))

    assert second.reused
    assert (second.size, second.adler32) == (first.size, first.adler32)
    after = buffer_copy.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_writing_different_content_to_an_existing_path_is_refused(endpoint, folder):
    path = f"{folder}/taken.tar"
    first = endpoint.write(path, [b"first version"])

    with pytest.raises(TapeConflict, match="already exists"):
        endpoint.write(path, [b"second version"])

    assert endpoint.checksum(path) == first.adler32


def test_a_checksum_mismatch_removes_the_file(endpoint, folder, monkeypatch):
    path = f"{folder}/garbled.tar"
    monkeypatch.setattr(TapeEndpoint, "checksum", lambda self, path: "00000000")

    with pytest.raises(TapeChecksumMismatch, match="00000000"):
        endpoint.write(path, [b"some bytes"])

    monkeypatch.undo()
    with pytest.raises(TapeNotFound):
        endpoint.stat(path)


def test_a_failing_source_leaves_no_partial_file(endpoint, folder):
    path = f"{folder}/partial.tar"

    def failing():
        yield b"x" * 100_000
        raise OSError("the source disk went away")

    with pytest.raises(OSError, match="went away"):
        endpoint.write(path, failing())

    with pytest.raises(TapeNotFound):
        endpoint.stat(path)


def test_a_missing_file_is_not_found(endpoint, folder):
    path = f"{folder}/missing.tar"
    with pytest.raises(TapeNotFound):
        endpoint.stat(path)
    with pytest.raises(TapeNotFound):
        endpoint.checksum(path)
    with pytest.raises(TapeNotFound):
        endpoint.read_range(path, 0, 1)


@pytest.mark.parametrize("path", ["", "/abs/file", "a/../b", "a//b", "a/./b", "a?b=c"])
def test_paths_must_be_relative_and_plain(endpoint, path):
    with pytest.raises(ValueError, match="relative tape path"):
        endpoint.stat(path)
