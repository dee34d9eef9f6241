"""Path list files: one path per line, read only if the requester could read them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from processors.indexer.walk import FILE, FileRecord, Rejection

from .conftest import OWNER_UID, needs_root, read_path_list, walk


def listed(path: Path, content: bytes) -> bytes:
    path.write_bytes(content)
    return os.fsencode(path)


def test_one_path_per_line_kept_byte_for_byte(tmp_path, me):
    content = b"/a b\n\n# a comment\n/bad\xff\xfe name\n/ends\r\n  /leading space\n/last"
    assert read_path_list(listed(tmp_path / "list", content), me) == (
        [b"/a b", b"/bad\xff\xfe name", b"/ends\r", b"  /leading space", b"/last"],
        [],
    )


def test_empty_list_gives_no_paths(tmp_path, me):
    assert read_path_list(listed(tmp_path / "list", b""), me) == ([], [])


def test_listed_paths_walk_to_records(tmp_path, me):
    names = [b"with space", b"bad\xff\xfe name"]
    for name in names:
        with open(os.fsencode(tmp_path) + b"/" + name, "wb") as handle:
            handle.write(b"1")
    content = b"".join(os.fsencode(tmp_path) + b"/" + name + b"\n" for name in names)
    paths, rejections = read_path_list(listed(tmp_path / "list", content), me)
    assert rejections == []
    items = list(walk(paths, me))
    assert [(item.path, item.path_type) for item in items if isinstance(item, FileRecord)] == [
        (path, FILE) for path in paths
    ]


def test_missing_list_is_rejected(tmp_path, me):
    path = os.fsencode(tmp_path / "absent")
    assert read_path_list(path, me) == (
        [],
        [Rejection(path, f"path list file {os.fsdecode(path)} could not be read: not found")],
    )


def test_relative_list_path_is_rejected(me):
    ([], [rejection]) = read_path_list(b"putlist.txt", me)
    assert rejection.reason.endswith("could not be read: path must be absolute")


@pytest.mark.timeout(10)
def test_fifo_as_list_is_rejected_without_hanging(tmp_path, me):
    os.mkfifo(tmp_path / "pipe")
    ([], [rejection]) = read_path_list(os.fsencode(tmp_path / "pipe"), me)
    assert rejection.reason.endswith("could not be read: not a regular file")


def test_list_through_a_symlink_is_read(tmp_path, me):
    listed(tmp_path / "real", b"/x\n")
    os.symlink("real", tmp_path / "link")
    assert read_path_list(os.fsencode(tmp_path / "link"), me) == ([b"/x"], [])


@needs_root
def test_list_the_requester_cannot_read_is_rejected(public_dir, stranger):
    path = listed(public_dir / "list", b"/etc/hostname\n")
    os.chown(path, OWNER_UID, OWNER_UID)
    os.chmod(path, 0o600)
    ([], [rejection]) = read_path_list(path, stranger)
    assert rejection == Rejection(
        path,
        f"path list file {os.fsdecode(path)} could not be read: permission denied",
    )


@needs_root
def test_list_in_a_directory_the_requester_cannot_enter_is_rejected(public_dir, stranger):
    closed = public_dir / "closed"
    closed.mkdir(mode=0o700)
    os.chown(closed, OWNER_UID, OWNER_UID)
    path = listed(closed / "list", b"/etc/hostname\n")
    os.chmod(path, 0o644)
    ([], [rejection]) = read_path_list(path, stranger)
    assert rejection.reason.endswith("could not be read: permission denied")
