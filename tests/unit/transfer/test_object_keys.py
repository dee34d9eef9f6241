"""Object keys: deterministic, plain ASCII, file-system-safe, and reversible to the path."""

from __future__ import annotations

import hashlib
import random

import pytest

from domain.object_keys import (
    MAX_KEY_BYTES,
    MAX_SEGMENT_BYTES,
    key_prefix,
    object_key,
    path_of_key,
)

UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def assert_well_formed(key: str) -> None:
    assert key.isascii()
    assert len(key) <= MAX_KEY_BYTES
    segments = key.split("/")
    assert all(segments), f"empty segment in {key!r}"
    assert not any(s in (".", "..") for s in segments), key
    assert all(len(s) <= MAX_SEGMENT_BYTES for s in segments), key
    assert set(key) <= UNRESERVED | {"/", "%", "="}


def test_plain_path_is_readable():
    assert object_key(12, "tx-9", b"/data/run1/file.h5") == "h12/tx-9/%2Fdata/run1/file.h5"


@pytest.mark.parametrize(
    "path",
    [
        b"with space/and\nnewline",
        b"percent%25and%",
        b"latin1-\xe9\xff\x80",
        "unicode-\u00e9\u4e2d\U0001f600".encode(),
        b"\x00\x01\x7f control",
        b"a//b",
        b"/leading/and/trailing/",
        b"./dot/../dots/.../.hidden",
        b".",
        b"..",
        b"/",
        b"//",
        b"sha256=" + b"0" * 64,
        b"plus+and=equals&?#[]@!$'()*,;:",
    ],
)
def test_round_trip(path):
    key = object_key(3, "tx", path)
    assert_well_formed(key)
    assert path_of_key(key) == path


def test_random_bytes_round_trip():
    rng = random.Random(42)
    for _ in range(2000):
        path = rng.randbytes(rng.randint(1, 60))
        key = object_key(rng.randint(0, 10**9), "01HXYZ", path)
        assert_well_formed(key)
        assert path_of_key(key) == path


def test_keys_are_deterministic_and_distinct():
    paths = [b"a", b"A", b"a/", b"/a", b"a b", b"a%20b", b"a\xff", b"a%FF", b"./a", b"%2E/a"]
    keys = [object_key(1, "t", p) for p in paths]
    assert keys == [object_key(1, "t", p) for p in paths]
    assert len(set(keys)) == len(paths)


def test_holding_and_transaction_scope_the_key():
    assert object_key(1, "t1", b"f") != object_key(2, "t1", b"f") != object_key(1, "t2", b"f")
    assert object_key(1, "t1", b"f").startswith(key_prefix(1, "t1"))


def test_long_path_uses_its_hash():
    path = b"/".join([b"d" * 200] * 6)  # encodes to more than 1024 bytes
    key = object_key(5, "tx", path)
    assert key == "h5/tx/sha256=" + hashlib.sha256(path).hexdigest()
    assert path_of_key(key) is None


def test_path_with_a_long_encoded_segment_uses_its_hash():
    # 100 two-byte characters: 200 bytes on disk, 600 once percent-encoded.
    path = b"dir/" + "\u00e9".encode() * 100
    key = object_key(5, "tx", path)
    assert key.startswith("h5/tx/sha256=")
    assert path_of_key(key) is None


def test_longest_path_that_still_fits_is_encoded():
    prefix = key_prefix(5, "tx")
    segments = (MAX_KEY_BYTES - len(prefix)) // (MAX_SEGMENT_BYTES + 1)
    path = b"/".join([b"x" * MAX_SEGMENT_BYTES] * segments)
    key = object_key(5, "tx", path)
    assert path_of_key(key) == path


def test_a_path_named_like_a_hashed_key_cannot_collide_with_one():
    long_path = b"y" * 2000
    hashed = object_key(1, "t", long_path)
    impostor = hashed.removeprefix("h1/t/").encode()
    assert object_key(1, "t", impostor) != hashed
    assert path_of_key(object_key(1, "t", impostor)) == impostor


@pytest.mark.parametrize("transaction_id", ["", "a/b", ".", "..", ".x", "sp ace", "\u00e9"])
def test_bad_transaction_ids_are_refused(transaction_id):
    with pytest.raises(ValueError):
        object_key(1, transaction_id, b"f")


def test_empty_path_and_negative_holding_are_refused():
    with pytest.raises(ValueError):
        object_key(1, "t", b"")
    with pytest.raises(ValueError):
        object_key(-1, "t", b"f")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "x/t/f",
        "h1/t",
        "h01/t/f",
        "h1/t/bad%zz",
        "h1/t/lower%e9",
        "h1/t/sp ace",
        "h1/t/\u00e9",
    ],
)
def test_path_of_key_refuses_what_is_not_a_key(key):
    with pytest.raises(ValueError):
        path_of_key(key)
