"""A file of mostly zeros (a sparse file, as it was put) comes back sparse: its zero
blocks are left as holes, not written, and it reads back exactly."""

from __future__ import annotations

import hashlib
import os

import pytest

from stores.s3.verified_files import HOLE_BLOCK, ContentMismatch, fill_verified

MIB = 1024 * 1024


def chunks(data: bytes, size: int = MIB) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_zero_blocks_are_holes_and_the_content_is_exact(tmp_path):
    data = bytearray(64 * MIB)
    data[5 * MIB : 5 * MIB + 3] = b"abc"  # a little data in the middle
    data[-1:] = b"z"  # and at the very end
    path = tmp_path / "sparse"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fill_verified(
            chunks(bytes(data), 1_000_003), fd, hashlib.sha256(data).hexdigest(), len(data)
        )
    finally:
        os.close(fd)
    assert path.read_bytes() == data
    allocated = path.stat().st_blocks * 512
    # Two data blocks, not 64 MiB (the file system may add some preallocation).
    assert allocated < len(data) // 8, allocated


def test_a_file_ending_in_zeros_keeps_its_length(tmp_path):
    data = b"head" + bytes(3 * HOLE_BLOCK)
    path = tmp_path / "tail"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fill_verified([data], fd, hashlib.sha256(data).hexdigest(), len(data))
    finally:
        os.close(fd)
    assert path.stat().st_size == len(data) and path.read_bytes() == data


def test_wrong_content_is_still_refused(tmp_path):
    fd = os.open(tmp_path / "bad", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with pytest.raises(ContentMismatch):
            fill_verified([bytes(HOLE_BLOCK)], fd, "0" * 64, HOLE_BLOCK)
    finally:
        os.close(fd)
