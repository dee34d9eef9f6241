"""Grouping members into aggregates, and naming the aggregates."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from stores.tape.aggregate import Member, aggregate_name, plan_aggregates, tar_footprint
from stores.tape.tar_format import BLOCK

MiB = 1024 * 1024


def member(file_id: int, size: int, path: bytes | None = None) -> Member:
    path = path or b"/data/%05d" % file_id
    return Member(file_id, path, f"key/{file_id}", size, 0o644, 0, "0" * 64, "00000001")


def tar_size(group: list[Member]) -> int:
    return sum(tar_footprint(m) for m in group) + 2 * BLOCK


def test_members_are_grouped_up_to_the_target_in_path_order():
    members = [member(i, 300 * 1024) for i in range(100)]

    plans = plan_aggregates(members, 10 * MiB)

    assert [m for group in plans for m in group] == sorted(members, key=lambda m: m.path)
    assert all(tar_size(group) <= 10 * MiB for group in plans)
    # Full: each group but the last would overflow with the next member.
    for group, following in itertools.pairwise(plans):
        assert tar_size([*group, following[0]]) > 10 * MiB
    assert len(plans) == 3


def test_a_member_larger_than_the_target_goes_alone():
    members = [member(1, MiB), member(2, 50 * MiB), member(3, MiB), member(4, 10 * MiB)]

    plans = plan_aggregates(members, 10 * MiB)

    assert [[m.file_id for m in group] for group in plans] == [[1], [2], [3], [4]]


def test_small_members_around_a_large_one_keep_their_path_order():
    members = [member(i, 1024) for i in range(6)]
    members[3] = member(3, 20 * MiB)

    plans = plan_aggregates(members, 10 * MiB)

    assert [[m.file_id for m in group] for group in plans] == [[0, 1, 2], [3], [4, 5]]


def test_the_plan_does_not_depend_on_the_input_order():
    members = [member(i, random.randrange(0, 3 * MiB)) for i in range(200)]
    shuffled = members[:]
    random.shuffle(shuffled)

    assert plan_aggregates(shuffled, 16 * MiB) == plan_aggregates(members, 16 * MiB)


def test_paths_sort_as_bytes_and_ties_by_file_id():
    members = [member(2, 1, b"/b"), member(1, 1, b"/b"), member(3, 1, b"/a\xff"), member(4, 1)]

    [group] = plan_aggregates(members, MiB)

    assert [m.file_id for m in group] == [3, 1, 2, 4]  # /a\xff, /b, /b, /data/00004


def test_duplicate_file_ids_and_silly_targets_are_refused():
    with pytest.raises(ValueError, match="twice"):
        plan_aggregates([member(1, 1), member(1, 2, b"/other")], MiB)
    with pytest.raises(ValueError, match="positive"):
        plan_aggregates([member(1, 1)], 0)
    assert plan_aggregates([], MiB) == []


def test_names_depend_on_the_holding_and_file_ids_only():
    members = [member(i, i) for i in (5, 1, 3)]

    name = aggregate_name(7, members)

    assert re.fullmatch(r"h7/agg-[0-9a-f]{20}\.tar", name)
    assert aggregate_name(7, list(reversed(members))) == name
    assert aggregate_name(7, [member(i, 999, b"/x%d" % i) for i in (1, 3, 5)]) == name
    assert aggregate_name(8, members) != name
    assert aggregate_name(7, members[:2]) != name


@pytest.mark.parametrize("path", [b"/", b"//", b"/a/\0b", b"/a/../b", b"/dir/", b".."])
def test_paths_that_cannot_name_a_tar_member_are_refused(path):
    with pytest.raises(ValueError, match="cannot be named"):
        member(1, 0, path)


def test_a_negative_size_is_refused():
    with pytest.raises(ValueError, match="negative"):
        member(1, -1)
