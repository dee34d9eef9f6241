"""Planning refuses, with a reason, everything that can never be restored, from the
catalog alone: it looks at nothing on disk (the requester's worker does, as the user)."""

from __future__ import annotations

import pytest

from processors.transfer_get.placement import UnsafePath
from processors.transfer_get.restore import Placement, Refusal, RestorePlan, RestoreRequest, plan

from .conftest import ALICE, STRANGER, dir_entry, file_entry, link_entry

TARGET = b"/home/alice/out"


def destinations(placements: list[Placement]) -> list[bytes]:
    return [p.destination for p in placements]


def reasons(refusals: list[Refusal]) -> dict[bytes, str]:
    return {r.path: r.reason for r in refusals}


def test_everything_fine_is_placed_below_the_target():
    files = [dir_entry(b"/data"), file_entry(b"/data/a.nc"), link_entry(b"/data/l", b"a.nc")]
    placements, refusals = plan(files, TARGET, ALICE, overwrite=False)
    assert refusals == []
    assert destinations(placements) == [TARGET + p for p in (b"/data", b"/data/a.nc", b"/data/l")]


def test_the_plan_sorts_placements_by_type():
    files = [file_entry(b"/a"), dir_entry(b"/d"), link_entry(b"/l", b"a")]
    result = plan(files, TARGET, ALICE, overwrite=False)
    assert isinstance(result, RestorePlan)
    assert [p.path for p in result.of_type("FILE")] == [b"/a"]
    assert [p.path for p in result.of_type("DIRECTORY")] == [b"/d"]
    assert [p.path for p in result.of_type("LINK")] == [b"/l"]


def test_every_placement_carries_the_request():
    (placement,), _ = plan([file_entry(b"/a")], b"//home/alice/./out/", STRANGER, True)
    assert placement.request == RestoreRequest(TARGET, STRANGER, True)


def test_in_place_entries_go_back_where_they_were():
    files = [file_entry(b"/data/a", uid=0, gid=0), dir_entry(b"//data/./d")]
    placements, refusals = plan(files, None, ALICE, overwrite=False)
    assert refusals == []
    assert destinations(placements) == [b"/data/a", b"/data/d"]
    assert placements[0].request.target is None


def test_the_plan_looks_at_nothing_on_disk():
    # what is there, and whether the requester may write it, is for the worker to find
    files = [file_entry(b"/etc/passwd"), dir_entry(b"/proc/self"), link_entry(b"/tmp", b"x")]
    placements, refusals = plan(files, None, STRANGER, overwrite=False)
    assert (destinations(placements), refusals) == ([b"/etc/passwd", b"/proc/self", b"/tmp"], [])


def test_unsafe_paths_are_refused_one_by_one():
    files = [file_entry(b"/ok"), file_entry(b"/../etc/passwd"), file_entry(b"relative")]
    placements, refusals = plan(files, TARGET, ALICE, overwrite=False)
    assert destinations(placements) == [TARGET + b"/ok"]
    assert reasons(refusals) == {
        b"/../etc/passwd": "path '/../etc/passwd' contains a '..' component",
        b"relative": "path 'relative' is not absolute",
    }


@pytest.mark.parametrize("target", [b"/home/alice/../bob", b"out", b"", b"/out\0"])
def test_an_unsafe_target_refuses_the_whole_request(target):
    with pytest.raises(UnsafePath):
        plan([file_entry(b"/a")], target, ALICE, overwrite=False)


@pytest.mark.parametrize("overwrite", [False, True])
def test_two_entries_for_one_place_are_refused(overwrite):
    files = [dir_entry(b"/x"), file_entry(b"/x"), link_entry(b"//x/", b"y")]
    placements, refusals = plan(files, TARGET, ALICE, overwrite=overwrite)
    assert destinations(placements) == [TARGET + b"/x"]
    assert [r.reason for r in refusals] == [
        "another entry of this request is restored to the same place"
    ] * 2


def test_entries_below_a_restored_file_or_link_are_refused():
    files = [
        file_entry(b"/f"),
        file_entry(b"/f/inner"),
        link_entry(b"/l", b"/etc"),
        file_entry(b"/l/passwd"),
        dir_entry(b"/l/deeper/still"),
    ]
    placements, refusals = plan(files, TARGET, ALICE, overwrite=False)
    assert destinations(placements) == [TARGET + b"/f", TARGET + b"/l"]
    assert reasons(refusals) == {
        b"/f/inner": f"{TARGET.decode()}/f is restored as a file, not a directory",
        b"/l/passwd": f"{TARGET.decode()}/l is restored as a symbolic link, not a directory",
        b"/l/deeper/still": f"{TARGET.decode()}/l is restored as a symbolic link, not a directory",
    }


def test_entries_the_catalog_cannot_restore_are_refused():
    no_copy = file_entry(b"/a") | {"object_key": None}
    no_sum = file_entry(b"/b") | {"sha256": None}
    no_link = link_entry(b"/l", b"") | {"link_path": None}
    odd = dir_entry(b"/fifo") | {"path_type": "FIFO"}
    _, refusals = plan([no_copy, no_sum, no_link, odd], TARGET, ALICE, overwrite=False)
    assert reasons(refusals) == {
        b"/a": "the catalog has no stored copy of this file",
        b"/b": "the catalog has no stored copy of this file",
        b"/l": "the catalog has no target for this link",
        b"/fifo": "cannot restore an entry of type FIFO",
    }


def test_odd_names_are_planned_byte_for_byte():
    names = [b"/new\nline", b"/with space", b"/latin1-\xe9\xff"]
    placements, refusals = plan([file_entry(n) for n in names], TARGET, ALICE, False)
    assert (destinations(placements), refusals) == ([TARGET + n for n in names], [])


def test_refusals_become_file_failures():
    refusal = Refusal(b"/a", "why", retryable=True)
    assert refusal.as_file_failure() == {"path": b"/a", "reason": "why", "retryable": True}
