"""Requesters come from the host user database; permissions are the kernel's mode-bit check."""

from __future__ import annotations

import grp
import os
import pwd
import stat

import pytest

from processors.indexing.access import (
    Requester,
    UnknownUser,
    can_list,
    can_read,
    can_search,
    requester_for,
)

OWNER, MEMBER, OTHER = 100, 200, 300
GROUP = 50
ALICE = Requester("alice", OWNER, frozenset([GROUP]))
BOB = Requester("bob", MEMBER, frozenset([GROUP]))
CAROL = Requester("carol", OTHER, frozenset([OTHER]))


def status(mode: int, uid: int = OWNER, gid: int = GROUP) -> os.stat_result:
    """A stat result with only the fields the checks read filled in."""
    return os.stat_result((mode, 1, 1, 1, uid, gid, 0, 0, 0, 0))


def test_requester_for_root_has_uid_0_and_its_primary_group():
    root = requester_for("root")
    assert root == Requester("root", 0, root.gids)
    assert 0 in root.gids


def test_requester_for_nobody_matches_passwd():
    entry = pwd.getpwnam("nobody")
    nobody = requester_for("nobody")
    assert (nobody.name, nobody.uid) == ("nobody", entry.pw_uid)
    assert entry.pw_gid in nobody.gids


def test_requester_for_includes_groups_listing_the_user_as_member():
    known = {entry.pw_name for entry in pwd.getpwall()}
    memberships = [(g.gr_gid, m) for g in grp.getgrall() for m in g.gr_mem if m in known]
    if not memberships:
        pytest.skip("no group on this host lists a member")
    gid, member = memberships[0]
    assert gid in requester_for(member).gids


def test_unknown_user_is_a_clear_error():
    with pytest.raises(UnknownUser, match="no-such-user-nearline"):
        requester_for("no-such-user-nearline")


def test_each_class_reads_its_own_bits():
    owner_only = status(stat.S_IFREG | 0o600)
    assert can_read(owner_only, ALICE)
    assert not can_read(owner_only, BOB)
    assert not can_read(owner_only, CAROL)
    group_too = status(stat.S_IFREG | 0o640)
    assert can_read(group_too, BOB)
    assert not can_read(group_too, CAROL)
    assert can_read(status(stat.S_IFREG | 0o004), CAROL)


def test_owner_class_wins_even_when_it_grants_less():
    assert not can_read(status(stat.S_IFREG | 0o044), ALICE)
    assert not can_read(status(stat.S_IFREG | 0o004), BOB)  # group class decides for members


def test_uid_0_is_not_special():
    someone_elses = status(stat.S_IFREG | 0o600, uid=12345, gid=12345)
    assert not can_read(someone_elses, Requester("root", 0, frozenset([0])))


def test_search_needs_execute_on_a_directory():
    assert can_search(status(stat.S_IFDIR | 0o100), ALICE)
    assert not can_search(status(stat.S_IFDIR | 0o600), ALICE)
    assert not can_search(status(stat.S_IFREG | 0o700), ALICE)
    assert can_search(status(stat.S_IFDIR | 0o001), CAROL)


def test_list_needs_read_and_execute_on_a_directory():
    assert can_list(status(stat.S_IFDIR | 0o500), ALICE)
    assert not can_list(status(stat.S_IFDIR | 0o100), ALICE)
    assert not can_list(status(stat.S_IFDIR | 0o400), ALICE)
    assert can_list(status(stat.S_IFDIR | 0o050), BOB)
    assert not can_list(status(stat.S_IFREG | 0o777), ALICE)
