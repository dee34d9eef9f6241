"""Destinations are computed on bytes and never lead outside their place, links included."""

from __future__ import annotations

import os

import pytest

from processors.restore.placement import (
    UnsafePath,
    check_no_symlink_escape,
    check_trusted_links,
    destination,
    normal_directory,
    strictly_below,
)

from .conftest import ALICE, ALICE_UID, STRANGER_UID, made_dir, needs_root


@pytest.mark.parametrize(
    ("path", "target", "expected"),
    [
        (b"/data/run/a.nc", b"/home/alice/out", b"/home/alice/out/data/run/a.nc"),
        (b"/data/run/a.nc", b"/home/alice/out/", b"/home/alice/out/data/run/a.nc"),
        (b"/data/run/a.nc", None, b"/data/run/a.nc"),
        (b"/data/run/a.nc", b"/", b"/data/run/a.nc"),
        (b"//data/./run//a.nc", b"/out/./x", b"/out/x/data/run/a.nc"),
        (b"/data", b"/out", b"/out/data"),
        (b"/", b"/out", b"/out"),
        (b"/", None, b"/"),
    ],
)
def test_destination(path, target, expected):
    assert destination(path, target) == expected


@pytest.mark.parametrize(
    "name", [b"new\nline", b"with space", b"latin1 \xe9\xff", b"...", b"..x", b".hidden"]
)
def test_odd_names_are_kept_byte_for_byte(name):
    assert destination(b"/d/" + name, b"/out") == b"/out/d/" + name


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (b"/data/../../etc/passwd", "'..'"),
        (b"/..", "'..'"),
        (b"/data/..", "'..'"),
        (b"data/run/a.nc", "not absolute"),
        (b"", "empty"),
        (b"/data/a\0b", "NUL"),
    ],
)
def test_paths_that_could_escape_are_refused(path, reason):
    for target in (b"/home/alice/out", None):
        with pytest.raises(UnsafePath, match=reason):
            destination(path, target)


@pytest.mark.parametrize("target", [b"out", b"/home/../etc", b"/out\0", b""])
def test_unsafe_targets_are_refused(target):
    with pytest.raises(UnsafePath):
        destination(b"/a", target)
    with pytest.raises(UnsafePath):
        normal_directory(target)


def test_strictly_below():
    assert strictly_below(b"/out/a", b"/out")
    assert strictly_below(b"/a", b"/")
    assert not strictly_below(b"/out", b"/out")
    assert not strictly_below(b"/outside/a", b"/out")


def test_a_planted_link_below_the_target_is_refused(public_dir):
    target = made_dir(public_dir + b"/out", 0o755)
    os.symlink(b"/etc", target + b"/data")
    with pytest.raises(UnsafePath, match="symbolic link"):
        check_no_symlink_escape(target + b"/data/passwd", target)
    os.mkdir(target + b"/real")
    os.symlink(public_dir, target + b"/real/deeper")  # even one pointing back inside
    with pytest.raises(UnsafePath, match="deeper"):
        check_no_symlink_escape(target + b"/real/deeper/x/y", target)


def test_real_and_missing_folders_are_fine(public_dir):
    target = made_dir(public_dir + b"/out", 0o755)
    os.makedirs(target + b"/a/b")
    check_no_symlink_escape(target + b"/a/b/c/d/file", target)
    check_no_symlink_escape(target, target)


def test_the_target_itself_may_be_a_link(public_dir):
    real = made_dir(public_dir + b"/real", 0o755)
    os.symlink(real, public_dir + b"/out")
    os.mkdir(real + b"/a")
    check_no_symlink_escape(public_dir + b"/out/a/file", public_dir + b"/out")


def test_the_destination_itself_may_be_a_link(public_dir):
    target = made_dir(public_dir + b"/out", 0o755)
    os.symlink(b"/etc/passwd", target + b"/file")  # replaced when restoring, not followed
    check_no_symlink_escape(target + b"/file", target)


def test_a_destination_outside_the_target_is_refused(public_dir):
    with pytest.raises(UnsafePath, match="not inside"):
        check_no_symlink_escape(public_dir + b"/elsewhere/x", public_dir + b"/out")


@needs_root
def test_original_place_trusts_root_and_own_links_only(public_dir):
    real = made_dir(public_dir + b"/real", 0o777)
    os.symlink(real, public_dir + b"/by-root")
    check_trusted_links(public_dir + b"/by-root/file", ALICE)
    os.symlink(real, public_dir + b"/by-alice")
    os.lchown(public_dir + b"/by-alice", ALICE_UID, ALICE_UID)
    check_trusted_links(public_dir + b"/by-alice/file", ALICE)
    os.symlink(real, public_dir + b"/planted")
    os.lchown(public_dir + b"/planted", STRANGER_UID, STRANGER_UID)
    with pytest.raises(UnsafePath, match=f"owned by another user \\(uid {STRANGER_UID}\\)"):
        check_trusted_links(public_dir + b"/planted/file", ALICE)


@needs_root
def test_original_place_checks_links_met_inside_a_links_target(public_dir):
    made_dir(public_dir + b"/shared", 0o777)
    made_dir(public_dir + b"/shared/elsewhere", 0o777)
    os.symlink(b"elsewhere", public_dir + b"/shared/sub")
    os.lchown(public_dir + b"/shared/sub", STRANGER_UID, STRANGER_UID)
    os.symlink(public_dir + b"/shared/sub", public_dir + b"/mine")  # root's, pointing on
    with pytest.raises(UnsafePath, match="shared/sub"):
        check_trusted_links(public_dir + b"/mine/file", ALICE)


def test_link_loops_on_the_way_are_refused(public_dir):
    os.symlink(b"b", public_dir + b"/a")
    os.symlink(b"a", public_dir + b"/b")
    with pytest.raises(UnsafePath, match="too many levels"):
        check_trusted_links(public_dir + b"/a/file", ALICE)


def test_missing_folders_end_the_original_place_check(public_dir):
    check_trusted_links(public_dir + b"/no/such/dir/file", ALICE)
