"""The orphan sweep's comparison (``admin.orphans.orphans``): the bucket's listing and the
catalog's named objects merged in key order."""

from __future__ import annotations

import pytest

from admin.orphans import OutOfOrder, orphans
from stores.s3.object_store import Listed

NOW = 1_000_000.0
DAY = 86_400.0


def listed(*keys: str, age: float = 30 * DAY) -> list[Listed]:
    return [Listed(key, 10, NOW - age) for key in keys]


def found(items: list[Listed], named: list[str], older_than: float = DAY) -> list[str]:
    return [item.key for item in orphans(items, named, older_than, NOW)]


PACK = "h1/t1/pack=" + "a" * 64


def test_objects_the_catalog_does_not_name_are_orphans() -> None:
    bucket = listed("h1/t1/a", "h1/t1/b", PACK, "h2/t9/c", "h3/t3/d")
    named = ["h1/t1/a", PACK, "h3/t3/d"]
    assert found(bucket, named) == ["h1/t1/b", "h2/t9/c"]


def test_an_object_named_before_and_after_others_is_kept() -> None:
    """Names the bucket lacks (evicted meanwhile) are passed over, not taken for keys."""
    bucket = listed("h1/t1/b", "h1/t1/d")
    assert found(bucket, ["h1/t1/a", "h1/t1/b", "h1/t1/c", "h1/t1/d", "h1/t1/e"]) == []
    assert found(bucket, []) == ["h1/t1/b", "h1/t1/d"]


def test_young_objects_and_others_keys_are_left() -> None:
    young = listed("h1/t1/new", age=DAY / 2)
    assert found(young, []) == []
    assert found(young, [], older_than=0) == ["h1/t1/new"]
    foreign = listed("bench/t/x", "h01/t/z", "h1/only-two-parts", "hx/t/y")
    assert found(foreign, []) == []


def test_a_listing_out_of_order_stops_the_comparison() -> None:
    with pytest.raises(OutOfOrder, match="the store listed"):
        found(listed("h1/t1/b", "h1/t1/a"), ["h1/t1/a"])
    with pytest.raises(OutOfOrder, match="the catalog named"):
        found(listed("h1/t1/z"), ["h1/t1/b", "h1/t1/a"])


def test_keys_compare_as_their_bytes() -> None:
    """A slice's ``#`` and the escapes ``%``, ``-``, ``.`` order as S3 lists them."""
    bucket = listed("h1/t1/a%20b", "h1/t1/a-b", "h1/t1/a.b", "h1/t1/a/b")
    assert found(bucket, ["h1/t1/a%20b", "h1/t1/a-b", "h1/t1/a.b", "h1/t1/a/b"]) == []
