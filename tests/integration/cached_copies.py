"""What the S3 cache holds for a cataloged object key: an object of its own, or a slice of
a pack (D90). Tests read both through these, with a client of their own choosing."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from domain.pack_keys import slice_of


def cached_bytes(client: Any, bucket: str, key: str) -> bytes:
    """The content of the cache copy at ``key``, read as a client of the store would."""
    part = slice_of(key)
    if part is None:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    answer = client.get_object(
        Bucket=bucket, Key=part.pack, Range=f"bytes={part.offset}-{part.last}"
    )
    return answer["Body"].read()


def object_of(key: str) -> str:
    """The object that holds the copy at ``key``: its pack, or itself."""
    part = slice_of(key)
    return part.pack if part is not None else key


def held(store: Any, key: str) -> bool:
    """Whether the object that holds the copy at ``key`` is in the store."""
    return store.exists(object_of(key))


def objects_under(client: Any, bucket: str, prefix: str) -> dict[str, int]:
    """The objects under ``prefix``, with their sizes."""
    listed: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        listed |= {o["Key"]: o["Size"] for o in page.get("Contents", [])}
    return listed


def check_stored_once(client: Any, bucket: str, copies: list[tuple[str, int]]) -> int:
    """Assert that each cataloged copy (key, size) is in an object, that no two copies share
    bytes, and that every object under their transactions' prefixes holds some copy:
    nothing missing, nothing stored twice. The number of objects."""
    assert len({key for key, _ in copies}) == len(copies), "two files share a cache copy"
    listed: dict[str, int] = {}
    for prefix in {"/".join(key.split("/", 2)[:2]) + "/" for key, _ in copies}:
        listed |= objects_under(client, bucket, prefix)  # h{holding}/{transaction}/
    spans: dict[str, list[tuple[int, int]]] = {}
    for key, size in copies:
        part = slice_of(key)
        holder = object_of(key)
        assert holder in listed, f"{key}: not in the store"
        if part is None:
            assert listed[holder] == size, f"{key}: {listed[holder]} bytes, not {size}"
        else:
            assert part.size == size and part.last < listed[holder], f"{key}: outside its pack"
        spans.setdefault(holder, []).append((part.offset, part.last) if part else (0, size))
    unused = sorted(set(listed) - set(spans))
    assert not unused, f"{len(unused)} objects no file uses, first {unused[:3]}"
    for holder, used in spans.items():
        used.sort()
        assert all(a[1] < b[0] for a, b in pairwise(used)), f"{holder}: slices overlap"
    return len(listed)


def corrupt(client: Any, bucket: str, key: str) -> None:
    """Overwrite the cache copy at ``key`` with as many zero bytes, behind nearline's back
    (the rest of its pack left as it was)."""
    holder = object_of(key)
    data = bytearray(client.get_object(Bucket=bucket, Key=holder)["Body"].read())
    part = slice_of(key)
    first, last = (part.offset, part.last) if part else (0, len(data) - 1)
    data[first : last + 1] = bytes(last - first + 1)
    client.put_object(Bucket=bucket, Key=holder, Body=bytes(data))
