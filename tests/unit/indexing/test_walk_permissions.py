"""The walk decides as the requester, not as the root service: files chowned to other ids."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from processors.indexer.walk import DIRECTORY, FILE, FileRecord, Rejection
from stores.posix.requesters import RefusedRequester, Requester

from .conftest import OWNER_UID, SHARED_GID, STRANGER_UID, needs_root, walk

pytestmark = needs_root

OWNER = Requester("owner", OWNER_UID, frozenset([OWNER_UID]))
MEMBER = Requester("member", STRANGER_UID, frozenset([STRANGER_UID, SHARED_GID]))


def made(path: Path, mode: int, uid: int = OWNER_UID, gid: int = OWNER_UID) -> bytes:
    """Create ``path`` (a directory if it ends in '/') owned by uid:gid with ``mode``."""
    if str(path).endswith("/") or path.suffix == ".d":
        path.mkdir()
    else:
        path.write_bytes(b"content")
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    return os.fsencode(path)


def kinds(items: list[FileRecord | Rejection]) -> list[tuple[bytes, str]]:
    return [
        (item.path, item.path_type if isinstance(item, FileRecord) else item.reason)
        for item in items
    ]


def test_another_users_private_file_is_rejected(public_dir, stranger):
    path = made(public_dir / "private", 0o600)
    assert list(walk([path], stranger)) == [Rejection(path, "no read permission for user stranger")]
    (record,) = walk([path], OWNER)
    assert isinstance(record, FileRecord)
    assert (record.uid, record.mode & 0o777) == (OWNER_UID, 0o600)


def test_group_readable_file_is_accepted_for_a_member(public_dir):
    path = made(public_dir / "shared", 0o640, gid=SHARED_GID)
    assert kinds(list(walk([path], MEMBER))) == [(path, FILE)]


def test_other_readable_file_is_accepted_for_anyone(public_dir, stranger):
    path = made(public_dir / "public", 0o604)
    assert kinds(list(walk([path], stranger))) == [(path, FILE)]


def test_owner_class_wins_over_a_group_that_may_read(public_dir):
    path = made(public_dir / "self_locked", 0o040, uid=STRANGER_UID, gid=SHARED_GID)
    assert list(walk([path], MEMBER)) == [Rejection(path, "no read permission for user member")]


def test_uid_0_is_never_served(public_dir):
    path = made(public_dir / "private", 0o600)
    root = Requester("root", 0, frozenset([0]))
    with pytest.raises(RefusedRequester, match="does not act for root"):
        walk([path], root)


def test_unlistable_directory_is_rejected_and_not_descended(public_dir, stranger):
    top = made(public_dir / "top.d", 0o755, uid=0, gid=0)
    locked = made(public_dir / "top.d/locked.d", 0o700)
    made(public_dir / "top.d/locked.d/inner.d", 0o755)
    made(public_dir / "top.d/locked.d/inner.d/readable", 0o644)
    made(public_dir / "top.d/locked.d/readable", 0o644)
    readable = made(public_dir / "top.d/readable", 0o644)
    assert kinds(list(walk([top], stranger))) == [
        (top, DIRECTORY),
        (
            locked,
            "no permission for user stranger to list this directory (needs read and execute)",
        ),
        (readable, FILE),
    ]


def test_search_only_directory_is_not_listed_but_named_files_in_it_are_reachable(
    public_dir, stranger
):
    top = made(public_dir / "top.d", 0o755, uid=0, gid=0)
    drop = made(public_dir / "top.d/drop.d", 0o711)
    inside = made(public_dir / "top.d/drop.d/known", 0o644)
    items = list(walk([top, inside], stranger))
    assert [(path, kind.split(" ")[0]) for path, kind in kinds(items)] == [
        (top, DIRECTORY),
        (drop, "no"),
        (inside, FILE),  # the user may name it: search permission is enough
    ]


def test_named_path_under_a_directory_without_execute_is_rejected(public_dir, stranger):
    closed = made(public_dir / "closed.d", 0o700)
    inside = made(public_dir / "closed.d/open", 0o644)
    assert list(walk([inside], stranger)) == [
        Rejection(
            inside, f"no permission for user stranger to reach directory {os.fsdecode(closed)}"
        )
    ]
    assert kinds(list(walk([inside], OWNER))) == [(inside, FILE)]


def test_a_symlinked_ancestor_does_not_open_a_closed_directory(public_dir, stranger):
    secret = made(public_dir / "secret.d", 0o700)
    made(public_dir / "secret.d/inner.d", 0o755)
    made(public_dir / "secret.d/inner.d/file", 0o644)
    made(public_dir / "open.d", 0o755)
    made(public_dir / "open.d/file", 0o644)
    os.symlink("secret.d/inner.d", public_dir / "door")
    os.symlink(public_dir / "open.d", public_dir / "window")
    through_door = os.fsencode(public_dir / "door/file")
    through_window = os.fsencode(public_dir / "window/file")
    items = list(walk([through_door, through_window], stranger))
    assert items[0] == Rejection(
        through_door,
        f"no permission for user stranger to reach directory {os.fsdecode(public_dir / 'door')}",
    )
    assert os.fsdecode(secret).endswith("secret.d")
    assert kinds(items[1:]) == [(through_window, FILE)]
    assert kinds(list(walk([through_door], OWNER))) == [(through_door, FILE)]


def test_an_ancestor_symlink_loop_is_rejected(public_dir, stranger):
    os.symlink("loop_b", public_dir / "loop_a")
    os.symlink("loop_a", public_dir / "loop_b")
    path = os.fsencode(public_dir / "loop_a/file")
    (item,) = walk([path], stranger)
    assert isinstance(item, Rejection)
    assert item.reason.startswith("too many levels of symbolic links")
