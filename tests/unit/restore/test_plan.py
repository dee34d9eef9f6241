"""Planning refuses, with a reason, everything that cannot or must not be restored."""

from __future__ import annotations

import os

import pytest

from processors.restore.metadata import Owner
from processors.restore.placement import UnsafePath
from processors.restore.restore import EXISTS, Placement, Refusal, RestorePlan, plan

from .conftest import (
    ALICE,
    ALICE_UID,
    ORIGINAL_GID,
    ORIGINAL_UID,
    STRANGER,
    dir_entry,
    file_entry,
    link_entry,
    made_dir,
    made_file,
    needs_root,
)

pytestmark = needs_root


def destinations(placements: list[Placement]) -> list[bytes]:
    return [p.destination for p in placements]


def reasons(refusals: list[Refusal]) -> dict[bytes, str]:
    return {r.path: r.reason for r in refusals}


def test_everything_fine_is_placed_below_the_target(target):
    files = [dir_entry(b"/data"), file_entry(b"/data/a.nc"), link_entry(b"/data/l", b"a.nc")]
    placements, refusals = plan(files, target, ALICE, overwrite=False)
    assert refusals == []
    assert destinations(placements) == [target + p for p in (b"/data", b"/data/a.nc", b"/data/l")]


def test_the_plan_sorts_placements_by_type(target):
    files = [file_entry(b"/a"), dir_entry(b"/d"), link_entry(b"/l", b"a")]
    result = plan(files, target, ALICE, overwrite=False)
    assert isinstance(result, RestorePlan)
    assert [p.path for p in result.of_type("FILE")] == [b"/a"]
    assert [p.path for p in result.of_type("DIRECTORY")] == [b"/d"]
    assert [p.path for p in result.of_type("LINK")] == [b"/l"]


def test_unsafe_paths_are_refused_one_by_one(target):
    files = [file_entry(b"/ok"), file_entry(b"/../etc/passwd"), file_entry(b"relative")]
    placements, refusals = plan(files, target, ALICE, overwrite=False)
    assert destinations(placements) == [target + b"/ok"]
    assert reasons(refusals) == {
        b"/../etc/passwd": "path '/../etc/passwd' contains a '..' component",
        b"relative": "path 'relative' is not absolute",
    }


def test_an_unsafe_target_refuses_the_whole_request():
    with pytest.raises(UnsafePath):
        plan([file_entry(b"/a")], b"/home/alice/../bob", ALICE, overwrite=False)


def test_a_planted_symlink_in_the_target_tree_is_refused(target):
    os.symlink(b"/etc", target + b"/data")
    os.lchown(target + b"/data", ALICE_UID, ALICE_UID)
    placements, refusals = plan([file_entry(b"/data/passwd")], target, ALICE, overwrite=True)
    assert placements == []
    assert "is a symbolic link" in refusals[0].reason


def test_a_target_the_requester_cannot_write(target):
    placements, refusals = plan([file_entry(b"/data/a")], target, STRANGER, overwrite=False)
    assert placements == []
    assert refusals == [
        Refusal(b"/data/a", f"target directory {target.decode()} is not writable by user stranger")
    ]


def test_a_missing_target_is_made_if_its_parent_allows(public_dir, target):
    placements, refusals = plan([file_entry(b"/a")], target + b"/new/out", ALICE, False)
    assert (destinations(placements), refusals) == ([target + b"/new/out/a"], [])
    placements, refusals = plan([file_entry(b"/a")], public_dir + b"/new", ALICE, False)
    assert placements == [] and "not writable by user alice" in refusals[0].reason


def test_existing_files_and_links_need_overwrite(target):
    made_file(target + b"/a", uid=ALICE_UID)
    os.symlink(b"anything", target + b"/l")
    files = [file_entry(b"/a"), link_entry(b"/l", b"new")]
    placements, refusals = plan(files, target, ALICE, overwrite=False)
    assert placements == []
    assert reasons(refusals) == {b"/a": EXISTS, b"/l": EXISTS}
    placements, refusals = plan(files, target, ALICE, overwrite=True)
    assert (destinations(placements), refusals) == ([target + b"/a", target + b"/l"], [])


def test_overwrite_needs_write_permission_on_the_existing_file(target):
    made_file(target + b"/a", mode=0o644, uid=0)  # root's, in alice's folder
    _, refusals = plan([file_entry(b"/a")], target, ALICE, overwrite=True)
    assert reasons(refusals) == {b"/a": f"{target.decode()}/a is not writable by user alice"}


@pytest.mark.parametrize("overwrite", [False, True])
def test_an_existing_directory_is_reused(target, overwrite):
    made_dir(target + b"/data", 0o755, ALICE_UID)
    files = [dir_entry(b"/data"), file_entry(b"/data/a")]
    placements, refusals = plan(files, target, ALICE, overwrite=overwrite)
    assert (destinations(placements), refusals) == ([target + b"/data", target + b"/data/a"], [])


@pytest.mark.parametrize("overwrite", [False, True])
def test_directories_and_files_never_replace_each_other(target, overwrite):
    made_dir(target + b"/was-dir", 0o755, ALICE_UID)
    made_file(target + b"/was-file", uid=ALICE_UID)
    files = [file_entry(b"/was-dir"), link_entry(b"/was-dir", b"x"), dir_entry(b"/was-file")]
    _, refusals = plan(files, target, ALICE, overwrite=overwrite)
    assert [r.reason for r in refusals] == [
        "another entry of this request is restored to the same place",
        "exists and is a directory",
        "exists and is not a directory",
    ]


def test_entries_below_a_restored_file_or_link_are_refused(target):
    files = [
        file_entry(b"/f"),
        file_entry(b"/f/inner"),
        link_entry(b"/l", b"/etc"),
        file_entry(b"/l/passwd"),
    ]
    placements, refusals = plan(files, target, ALICE, overwrite=False)
    assert destinations(placements) == [target + b"/f", target + b"/l"]
    assert reasons(refusals) == {
        b"/f/inner": f"{target.decode()}/f is restored as a file, not a directory",
        b"/l/passwd": f"{target.decode()}/l is restored as a symbolic link, not a directory",
    }


def test_entries_the_catalog_cannot_restore_are_refused(target):
    no_copy = file_entry(b"/a") | {"object_key": None}
    no_link = link_entry(b"/l", b"") | {"link_path": None}
    odd = dir_entry(b"/fifo") | {"path_type": "FIFO"}
    _, refusals = plan([no_copy, no_link, odd], target, ALICE, overwrite=False)
    assert reasons(refusals) == {
        b"/a": "the catalog has no stored copy of this file",
        b"/l": "the catalog has no target for this link",
        b"/fifo": "cannot restore an entry of type FIFO",
    }


def test_odd_names_are_planned_byte_for_byte(target):
    names = [b"/new\nline", b"/with space", b"/latin1-\xe9\xff"]
    placements, refusals = plan([file_entry(n) for n in names], target, ALICE, False)
    assert (destinations(placements), refusals) == ([target + n for n in names], [])


def test_owners_in_place_and_under_a_target(public_dir, target):
    entry = file_entry(b"/a")
    (under,), _ = plan([entry], target, ALICE, overwrite=False)
    assert under.owner == Owner(ALICE_UID, ALICE_UID)
    in_place = file_entry(target + b"/a")
    (original,), _ = plan([in_place], None, ALICE, overwrite=False)
    assert original.destination == target + b"/a"
    assert original.owner == Owner(ORIGINAL_UID, ORIGINAL_GID)


def test_original_place_refuses_links_planted_by_other_users(public_dir):
    shared = made_dir(public_dir + b"/shared", 0o777)
    home = made_dir(public_dir + b"/home", 0o755, ALICE_UID)
    os.symlink(home, shared + b"/run")
    os.lchown(shared + b"/run", 23456, 23456)
    _, refusals = plan([file_entry(shared + b"/run/.bashrc")], None, ALICE, overwrite=True)
    assert "symbolic link owned by another user" in refusals[0].reason


def test_the_requesters_group_can_be_given(target):
    (placement,), _ = plan([file_entry(b"/a")], target, ALICE, False, group=4242)
    assert placement.owner == Owner(ALICE_UID, 4242)


def test_refusals_become_file_failures():
    refusal = Refusal(b"/a", "why", retryable=True)
    assert refusal.as_file_failure() == {"path": b"/a", "reason": "why", "retryable": True}
