"""adler32 and sha256 computed in one pass, chunk by chunk, equal the whole-buffer values."""

from __future__ import annotations

import hashlib
import os
import random
import threading
import zlib

import pytest

from stores.checksums import Checksummer, ContentCheck, file_checksums
from stores.s3.verified_files import ContentMismatch, fill_verified


def test_known_values():
    summer = Checksummer()
    summer.update(b"Wikipedia")
    assert summer.adler32 == "11e60398"
    assert summer.sha256 == hashlib.sha256(b"Wikipedia").hexdigest()
    assert summer.size == 9


def test_empty_stream():
    summer = Checksummer()
    assert summer.adler32 == "00000001"
    assert summer.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert summer.size == 0


def test_adler32_is_zero_padded_lowercase_hex_as_xrootd_prints_it():
    summer = Checksummer()
    summer.update(b"a")
    assert summer.adler32 == "00620062"


def test_any_chunking_gives_the_whole_buffer_checksums():
    rng = random.Random(7)
    data = rng.randbytes(3 * 1024 * 1024 + 17)
    summer = Checksummer()
    position = 0
    while position < len(data):
        step = rng.choice([1, 7, 4096, 65536, 1 << 20])
        chunk = data[position : position + step]
        summer.update(memoryview(chunk) if step % 2 else bytearray(chunk))
        position += step
    assert summer.adler32 == f"{zlib.adler32(data):08x}"
    assert summer.sha256 == hashlib.sha256(data).hexdigest()
    assert summer.size == len(data)


def test_file_checksums(tmp_path):
    data = random.Random(1).randbytes(2_500_000)
    path = tmp_path / "f\xe9 \n"
    path.write_bytes(data)
    assert file_checksums(bytes(path)) == {
        "adler32": f"{zlib.adler32(data):08x}",
        "sha256": hashlib.sha256(data).hexdigest(),
    }


@pytest.mark.parametrize("threaded", [False, True])
def test_a_restore_checks_the_sha256_of_what_it_was_given(threaded):
    chunks = [os.urandom(n) for n in (1, 5000, 1 << 20, 3, 70_000)]
    plain, check = Checksummer(), ContentCheck(threaded=threaded)
    for chunk in chunks:
        plain.update(chunk)
        check.update(bytearray(chunk))  # copied when threaded: the caller may reuse it
    assert (check.sha256, check.size) == (plain.sha256, plain.size)
    assert check.adler32 == ""  # not computed: nothing checks a restored file's


def test_a_fill_that_fails_ends_the_hashing_thread(tmp_path):
    before = threading.active_count()
    with open(tmp_path / "f", "wb") as f:
        for chunks, size in (([b"a" * 10, b"b" * 10], 15), ([b"a" * 10], 10)):
            with pytest.raises(ContentMismatch):
                check = ContentCheck(threaded=True)
                fill_verified(chunks, f.fileno(), "0" * 64, size, False, check)
    assert threading.active_count() == before
