"""The walk over real trees, as the user who owns them."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from processors.indexer.walk import (
    DIRECTORY,
    FILE,
    LINK,
    FileRecord,
    Rejection,
)
from stores.posix import walking

from .conftest import walk

GIB = 2**30


def at(root: Path, *names: str | bytes) -> bytes:
    """The bytes path of ``names`` under ``root``."""
    path = os.fsencode(root)
    for name in names:
        path += b"/" + os.fsencode(name)
    return path


def listing(items: list[FileRecord | Rejection], root: Path) -> list[tuple[bytes, str]]:
    """(path relative to root, type or 'REJECTED') in walk order."""
    prefix = at(root)
    return [
        (
            item.path.removeprefix(prefix),
            item.path_type if isinstance(item, FileRecord) else "REJECTED",
        )
        for item in items
    ]


def only(items: list[FileRecord | Rejection], path: bytes) -> FileRecord | Rejection:
    found = [item for item in items if item.path == path]
    assert len(found) == 1, found
    return found[0]


def test_nested_and_empty_directories_are_all_recorded(tmp_path, me):
    (tmp_path / "top/a/deep").mkdir(parents=True)
    (tmp_path / "top/empty").mkdir()
    (tmp_path / "top/a/deep/data.nc").write_bytes(b"x" * 10)
    (tmp_path / "top/b.txt").write_bytes(b"hello")
    items = list(walk([at(tmp_path, "top")], me))
    assert listing(items, tmp_path) == [
        (b"/top", DIRECTORY),
        (b"/top/a", DIRECTORY),
        (b"/top/a/deep", DIRECTORY),
        (b"/top/a/deep/data.nc", FILE),
        (b"/top/b.txt", FILE),
        (b"/top/empty", DIRECTORY),
    ]
    data = only(items, at(tmp_path, "top/a/deep/data.nc"))
    on_disk = os.lstat(tmp_path / "top/a/deep/data.nc")
    assert data == FileRecord(
        path=at(tmp_path, "top/a/deep/data.nc"),
        path_type=FILE,
        link_path=None,
        size=10,
        mode=on_disk.st_mode,
        uid=on_disk.st_uid,
        gid=on_disk.st_gid,
        mtime_ns=on_disk.st_mtime_ns,
    )
    directories = [i for i in items if isinstance(i, FileRecord) and i.path_type == DIRECTORY]
    assert len(directories) == 4
    assert all(item.size == 0 for item in directories)


@pytest.mark.timeout(30)
def test_symlinks_are_recorded_not_followed(tmp_path, me):
    top = tmp_path / "top"
    (top / "real").mkdir(parents=True)
    (top / "real/inside").write_bytes(b"1")
    os.symlink("real/inside", top / "to_file")
    os.symlink("real", top / "to_dir")
    os.symlink("/nowhere/at/all", top / "dangling")
    os.symlink("loop_b", top / "loop_a")
    os.symlink("loop_a", top / "loop_b")
    os.symlink("..", top / "real/up")
    items = list(walk([at(top)], me))
    assert listing(items, top) == [
        (b"", DIRECTORY),
        (b"/dangling", LINK),
        (b"/loop_a", LINK),
        (b"/loop_b", LINK),
        (b"/real", DIRECTORY),
        (b"/real/inside", FILE),
        (b"/real/up", LINK),
        (b"/to_dir", LINK),
        (b"/to_file", LINK),
    ]
    targets = {item.path: item.link_path for item in items if isinstance(item, FileRecord)}
    assert targets[at(top, "dangling")] == b"/nowhere/at/all"
    assert targets[at(top, "loop_a")] == b"loop_b"
    assert targets[at(top, "real/up")] == b".."
    assert targets[at(top, "to_dir")] == b"real"


def test_a_named_symlink_is_recorded_not_followed(tmp_path, me):
    (tmp_path / "real").mkdir()
    (tmp_path / "real/inside").write_bytes(b"1")
    os.symlink("real", tmp_path / "link")
    assert listing(list(walk([at(tmp_path, "link")], me)), tmp_path) == [(b"/link", LINK)]


def test_awkward_names_come_back_byte_for_byte(tmp_path, me):
    top = at(tmp_path, "top")
    os.mkdir(top)
    names = [b"with space", b"new\nline", b"bad\xff\xfe name", b"zero"]
    for name in names:
        with open(top + b"/" + name, "wb") as handle:
            handle.write(b"" if name == b"zero" else b"data")
    items = list(walk([top], me))
    assert [item.path for item in items] == [top, *sorted(top + b"/" + n for n in names)]
    assert all(isinstance(item, FileRecord) for item in items)
    for item in items:
        os.lstat(item.path)  # every recorded path names the file on disk
    zero = only(items, top + b"/zero")
    assert isinstance(zero, FileRecord)
    assert zero.size == 0


def test_sparse_file_size_is_recorded_without_reading_it(tmp_path, me):
    huge = tmp_path / "sparse.bin"
    with open(huge, "wb") as handle:
        handle.truncate(5 * GIB)
    (record,) = walk([at(huge)], me)
    assert isinstance(record, FileRecord)
    assert record.size == 5 * GIB


def test_fifo_and_socket_are_rejected_with_reasons(tmp_path, me, monkeypatch):
    os.mkfifo(tmp_path / "pipe")
    monkeypatch.chdir(tmp_path)  # a short relative name keeps under the AF_UNIX path limit
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("sock")
        items = list(walk([at(tmp_path, "pipe"), at(tmp_path, "sock")], me))
    assert items == [
        Rejection(
            at(tmp_path, "pipe"),
            "is a FIFO (named pipe): only files, directories and links can be stored",
        ),
        Rejection(
            at(tmp_path, "sock"), "is a socket: only files, directories and links can be stored"
        ),
    ]


def test_a_device_is_rejected(me):
    (item,) = walk([b"/dev/null"], me)
    assert isinstance(item, Rejection)
    assert item.reason.startswith("is a character device")


def test_missing_path_is_not_found(tmp_path, me):
    assert list(walk([at(tmp_path, "absent")], me)) == [
        Rejection(at(tmp_path, "absent"), "not found")
    ]
    assert list(walk([at(tmp_path, "absent/deeper")], me)) == [
        Rejection(at(tmp_path, "absent/deeper"), "not found")
    ]


def test_path_under_a_file_is_rejected(tmp_path, me):
    (tmp_path / "plain").write_bytes(b"1")
    (item,) = walk([at(tmp_path, "plain/child")], me)
    assert isinstance(item, Rejection)
    assert item.reason.endswith("plain is not a directory")


def test_bad_top_level_paths_are_rejected_once(me):
    items = list(walk([b"relative/path", b"/a/../etc", b"/nul\0byte", b"relative/path", b""], me))
    assert items == [
        Rejection(b"relative/path", "path must be absolute"),
        Rejection(b"/a/../etc", "path must not contain '..' components"),
        Rejection(b"/nul\0byte", "path contains a NUL byte"),
        Rejection(b"", "path must be absolute"),
    ]


def test_top_level_paths_are_normalised_lexically(tmp_path, me):
    (tmp_path / "d").mkdir()
    (tmp_path / "d/f").write_bytes(b"1")
    messy = at(tmp_path).replace(b"/", b"//") + b"/./d/.//f"
    assert [item.path for item in walk([messy], me)] == [at(tmp_path, "d/f")]
    assert [item.path for item in walk([at(tmp_path, "d") + b"/"], me)] == [
        at(tmp_path, "d"),
        at(tmp_path, "d/f"),
    ]


def test_duplicated_paths_come_out_once(tmp_path, me):
    (tmp_path / "d/sub").mkdir(parents=True)
    (tmp_path / "d/sub/f").write_bytes(b"1")
    (tmp_path / "d/g").write_bytes(b"1")
    d, f, sub = at(tmp_path, "d"), at(tmp_path, "d/sub/f"), at(tmp_path, "d/sub")
    expected = [d, at(tmp_path, "d/g"), sub, f]
    for named in ([d, d], [d, f], [f, d], [sub, d, f, d + b"/", sub]):
        paths = [item.path for item in walk(named, me)]
        assert sorted(paths) == sorted(expected), named
    assert [item.path for item in walk([f, f + b"/", f], me)] == [f]


def test_walk_order_is_the_same_whatever_the_creation_order(tmp_path, me):
    names = ["b", "a", "c c", "A", "_", "0"]
    for tree, order in (("one", names), ("two", list(reversed(names)))):
        for name in order:
            (tmp_path / tree / name).mkdir(parents=True)
            (tmp_path / tree / name / "f").write_bytes(b"1")
    one = listing(list(walk([at(tmp_path, "one")], me)), tmp_path / "one")
    two = listing(list(walk([at(tmp_path, "two")], me)), tmp_path / "two")
    assert one == two
    assert one == listing(list(walk([at(tmp_path, "one")], me)), tmp_path / "one")


def test_an_entry_vanishing_mid_walk_is_reported(tmp_path, me):
    (tmp_path / "d").mkdir()
    for name in ("a", "b"):
        (tmp_path / "d" / name).write_bytes(b"1")
    # The walk itself, in this process, to stop it between two entries.
    items = walking.walk([at(tmp_path, "d")], "owner")
    assert next(items)["p"] == os.fsdecode(at(tmp_path, "d"))
    assert next(items)["p"] == os.fsdecode(at(tmp_path, "d/a"))
    (tmp_path / "d/b").unlink()  # listed already, gone before it is examined
    assert list(items) == [
        {"p": os.fsdecode(at(tmp_path, "d/b")), "r": "disappeared while being indexed"}
    ]


def test_deeper_than_the_recursion_limit(tmp_path, me):
    depth = sys.getrecursionlimit() + 100
    chain = [at(tmp_path) + b"/d" * level for level in range(1, depth + 1)]
    try:
        for directory in chain:  # os.makedirs would itself recurse this deep
            os.mkdir(directory)
        items = list(walk([chain[0]], me))
        assert [item.path for item in items] == chain
    finally:
        # shutil.rmtree (and so pytest's tmp_path cleanup) also recurses: empty it here.
        for directory in reversed(chain):
            if os.path.isdir(directory):
                os.rmdir(directory)
