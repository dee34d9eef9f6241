"""The eviction policy: watermarks, least recently accessed first, and what is kept."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain.eviction import CachedCopy
from domain.pack_keys import Slice, pack_key
from nearline.settings import EvictionSettings
from processors.evict.policy import Rules, by_holding, choose


def candidate(file_id: int, size: int, access: int, label: str = "run", **tags: str) -> CachedCopy:
    return CachedCopy(
        file_id=file_id,
        holding_id=file_id % 3,
        user="alice",
        group="climate",
        label=label,
        path=b"/f%d" % file_id,
        object_key=f"k{file_id}",
        size=size,
        access_time=access,
        tags=tags,
    )


RULES = Rules(capacity=1000, high=0.9, low=0.5)


def test_below_the_high_watermark_nothing_is_evicted():
    plan = choose(900, [candidate(1, 500, 1)], RULES)
    assert plan.chosen == () and plan.target == 900


def test_above_it_the_least_recently_accessed_go_until_the_low_watermark():
    files = [
        candidate(1, 200, 30),
        candidate(2, 200, 10),
        candidate(3, 200, 20),
        candidate(4, 200, 40),
    ]
    plan = choose(950, files, RULES)
    # 950 - 200 (t=10) - 200 (t=20) - 200 (t=30) = 350 <= 500; the newest stays.
    assert [c.file_id for c in plan.chosen] == [2, 3, 1]
    assert plan.target == 350 and plan.freed == 600


def test_kept_files_are_skipped_and_the_next_ones_go_instead():
    rules = Rules(capacity=1000, high=0.9, low=0.5, min_size=100, keep_labels=("keep-*",))
    files = [
        candidate(1, 50, 1),  # too small
        candidate(2, 300, 2, label="keep-me"),  # label pattern
        candidate(3, 300, 3, cache="keep"),  # tag
        candidate(4, 300, 4),
        candidate(5, 300, 5),
    ]
    plan = choose(1000, files, rules)
    assert [c.file_id for c in plan.chosen] == [4, 5]


def test_tag_rules_with_and_without_a_value():
    rules = Rules(capacity=100, high=0.1, low=0.0, keep_tags=("cache:keep", "pinned"))
    files = [
        candidate(1, 10, 1, cache="keep"),
        candidate(2, 10, 2, cache="other"),
        candidate(3, 10, 3, pinned="yes"),
    ]
    assert [c.file_id for c in choose(100, files, rules).chosen] == [2]


def test_not_enough_candidates_frees_what_it_can():
    plan = choose(1000, [candidate(1, 100, 1)], RULES)
    assert [c.file_id for c in plan.chosen] == [1] and plan.target == 900


def test_rules_come_from_settings_and_watermarks_must_be_ordered():
    rules = Rules.of(EvictionSettings(cache_capacity_bytes=10, keep_labels=["x*"]))
    assert rules.capacity == 10 and rules.keep_labels == ("x*",)
    assert rules.keep_tags == ("cache:keep",)
    with pytest.raises(ValueError, match="low watermark"):
        EvictionSettings(high_watermark=0.5, low_watermark=0.6)


def test_chosen_files_are_grouped_per_holding():
    groups = by_holding([candidate(i, 1, i) for i in range(6)])
    assert {h: [c.file_id for c in cs] for h, cs in groups.items()} == {
        0: [0, 3],
        1: [1, 4],
        2: [2, 5],
    }


def packed(file_id: int, size: int, access: int, pack: str, **tags: str) -> CachedCopy:
    """A candidate whose cache copy is a slice of ``pack`` (D90)."""
    key = Slice(pack_key("h1/t/", pack * 64), file_id * 1000, size).key
    return replace(candidate(file_id, size, access, **tags), holding_id=1, object_key=key)


def test_the_files_of_a_pack_go_together_by_the_latest_access_among_them():
    files = [
        packed(1, 200, 10, "a"),
        packed(2, 200, 50, "a"),  # accessed last: the pack's turn comes after file 3
        candidate(3, 200, 30),
        packed(4, 300, 40, "b"),
    ]
    plan = choose(1100, files, RULES)
    assert [c.file_id for c in plan.chosen] == [3, 4, 1, 2]
    plan = choose(950, files, RULES)  # 450 to free: file 3, then pack b, and enough
    assert [c.file_id for c in plan.chosen] == [3, 4]


def test_a_kept_file_keeps_its_whole_pack():
    files = [packed(1, 300, 10, "a"), packed(2, 300, 10, "a", cache="keep"), candidate(3, 300, 20)]
    plan = choose(1000, files, RULES)
    assert [c.file_id for c in plan.chosen] == [3]
