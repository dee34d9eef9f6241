"""Writability is judged for the requester, by mode bits, never as the root service."""

from __future__ import annotations

import os
import stat

import pytest

from processors.indexing.access import Requester
from processors.restore.permissions import (
    Writability,
    can_create,
    can_write,
    may_replace,
    writable_destination,
)

from .conftest import ALICE, ALICE_UID, STRANGER, STRANGER_UID, made_dir, made_file, needs_root

pytestmark = needs_root

GROUP = 777
MEMBER = Requester("member", STRANGER_UID, frozenset([STRANGER_UID, GROUP]))


def status(mode: int, uid: int = ALICE_UID, gid: int = GROUP) -> os.stat_result:
    """A stat result with only the fields the checks read filled in."""
    return os.stat_result((mode, 1, 1, 1, uid, gid, 0, 0, 0, 0))


@pytest.mark.parametrize(
    ("mode", "who", "allowed"),
    [
        (0o700, ALICE, True),
        (0o500, ALICE, False),  # no w
        (0o600, ALICE, False),  # no x
        (0o070, MEMBER, True),
        (0o750, MEMBER, False),
        (0o007, STRANGER, True),
        (0o077, ALICE, False),  # the owner class decides, even when others may more
        (0o707, MEMBER, False),  # so does the group class
    ],
)
def test_can_create_needs_write_and_search_on_the_folder(mode, who, allowed):
    assert can_create(status(stat.S_IFDIR | mode), who) is allowed


def test_can_create_only_in_directories():
    assert not can_create(status(stat.S_IFREG | 0o777), ALICE)


def test_can_write():
    assert can_write(status(stat.S_IFREG | 0o200), ALICE)
    assert not can_write(status(stat.S_IFREG | 0o577), ALICE)
    assert can_write(status(stat.S_IFREG | 0o020), MEMBER)


def test_sticky_folders_let_only_owners_replace():
    sticky = status(stat.S_IFDIR | stat.S_ISVTX | 0o777, uid=0)
    theirs = status(stat.S_IFREG | 0o666, uid=STRANGER_UID)
    assert not may_replace(theirs, sticky, ALICE)
    assert may_replace(theirs, sticky, STRANGER)
    assert may_replace(theirs, status(stat.S_IFDIR | 0o777, uid=0), ALICE)
    assert may_replace(theirs, status(stat.S_IFDIR | stat.S_ISVTX | 0o777), ALICE)  # her dir


def test_missing_folders_are_judged_by_the_nearest_existing_one(target):
    assert writable_destination(target + b"/data/run/deep/a.nc", ALICE) is None
    reason = writable_destination(target + b"/data/run/a.nc", STRANGER, target)
    assert reason == f"target directory {target.decode()} is not writable by user stranger"


def test_an_existing_folder_the_requester_cannot_write(target):
    made_dir(target + b"/data", 0o755)  # root's
    assert writable_destination(target + b"/data/a", ALICE) == (
        f"directory {target.decode()}/data is not writable by user alice"
    )


def test_group_members_may_write_a_group_folder(public_dir):
    shared = made_dir(public_dir + b"/shared", 0o770, gid=GROUP)
    assert writable_destination(shared + b"/a", MEMBER) is None
    assert writable_destination(shared + b"/a", STRANGER) is not None


def test_an_unreachable_folder_is_reported(public_dir):
    private = made_dir(public_dir + b"/private", 0o700, ALICE_UID)
    made_dir(private + b"/open", 0o777)
    reason = writable_destination(private + b"/open/a", STRANGER)
    assert reason == f"no permission for user stranger to enter directory {private.decode()}"


def test_a_file_where_a_folder_should_be(target):
    made_file(target + b"/data", uid=ALICE_UID)
    assert (
        writable_destination(target + b"/data/a", ALICE)
        == f"{target.decode()}/data is not a directory"
    )


def test_replacing_a_file_needs_write_permission_on_it(target):
    made_file(target + b"/mine", mode=0o644, uid=ALICE_UID)
    made_file(target + b"/read-only", mode=0o444, uid=ALICE_UID)
    assert writable_destination(target + b"/mine", ALICE) is None
    assert writable_destination(target + b"/read-only", ALICE) == (
        f"{target.decode()}/read-only is not writable by user alice"
    )


def test_replacing_in_a_sticky_folder(public_dir):
    sticky = made_dir(public_dir + b"/sticky", stat.S_ISVTX | 0o777)
    made_file(sticky + b"/theirs", mode=0o666, uid=STRANGER_UID)
    assert "sticky bit" in (writable_destination(sticky + b"/theirs", ALICE) or "")
    assert writable_destination(sticky + b"/theirs", STRANGER) is None
    assert writable_destination(sticky + b"/new", ALICE) is None


def test_an_existing_directory_is_reused_if_reachable(target):
    made_dir(target + b"/data", 0o755)  # root's: not writable, but there is nothing to write
    assert writable_destination(target + b"/data", ALICE) is None


def test_a_link_to_a_folder_is_followed_as_the_requester_would(public_dir):
    private = made_dir(public_dir + b"/private", 0o700, STRANGER_UID)
    os.symlink(private, public_dir + b"/shortcut")
    assert "not writable by user alice" in (
        writable_destination(public_dir + b"/shortcut/a", ALICE) or ""
    )
    assert writable_destination(public_dir + b"/shortcut/a", STRANGER) is None


def test_each_folder_is_checked_once(target, monkeypatch):
    checks = Writability(ALICE)
    calls: list[bytes] = []
    original = checks._check_folder

    def counted(directory: bytes):
        calls.append(directory)
        return original(directory)

    monkeypatch.setattr(checks, "_check_folder", counted)
    for name in (b"a", b"b", b"c"):
        assert checks.denial(target + b"/x/" + name) is None
    assert calls == [target + b"/x", target]
