"""The walk notes hard links: files of one PUT that share an inode name one link group,
the path of the first of them in walk order (decision D133)."""

from __future__ import annotations

import os
from pathlib import Path

from processors.indexer.walk import FileRecord

from .conftest import own, walk


def at(root: Path, name: str) -> bytes:
    return os.fsencode(root / name)


def groups(items: list, root: Path) -> dict[bytes, bytes | None]:
    """Each file's link group, both relative to ``root``."""
    prefix = os.fsencode(root)
    return {
        i.path.removeprefix(prefix): (
            None if i.link_group is None else i.link_group.removeprefix(prefix)
        )
        for i in items
        if isinstance(i, FileRecord) and i.path_type == "FILE"
    }


def test_files_sharing_an_inode_name_the_first_of_them_in_walk_order(tmp_path, me):
    # a pair and a triple, spread over folders walked in name order, and a lone file
    (tmp_path / "top/a").mkdir(parents=True)
    (tmp_path / "top/b").mkdir()
    (tmp_path / "top/b/pair").write_bytes(b"pair")
    os.link(tmp_path / "top/b/pair", tmp_path / "top/a/pair-too")
    (tmp_path / "top/triple").write_bytes(b"three")
    os.link(tmp_path / "top/triple", tmp_path / "top/a/triple-2")
    os.link(tmp_path / "top/triple", tmp_path / "top/b/triple-3")
    (tmp_path / "top/lone").write_bytes(b"lone")
    own(tmp_path)

    found = groups(walk([at(tmp_path, "top")], me), tmp_path)

    # the first in walk order (folders before later names) names each group
    assert found == {
        b"/top/a/pair-too": b"/top/a/pair-too",
        b"/top/a/triple-2": b"/top/a/triple-2",
        b"/top/b/pair": b"/top/a/pair-too",
        b"/top/b/triple-3": b"/top/a/triple-2",
        b"/top/lone": None,
        b"/top/triple": b"/top/a/triple-2",
    }


def test_a_file_whose_other_links_are_outside_the_put_is_a_group_of_its_own(tmp_path, me):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/f").write_bytes(b"x")
    os.link(tmp_path / "in/f", tmp_path / "outside")
    own(tmp_path)

    assert groups(walk([at(tmp_path, "in")], me), tmp_path) == {b"/in/f": b"/in/f"}


def test_links_named_separately_in_one_put_are_still_one_group(tmp_path, me):
    # named paths are walked in the order given: the first named is the group's name
    (tmp_path / "x").write_bytes(b"x")
    os.link(tmp_path / "x", tmp_path / "y")
    own(tmp_path)

    items = walk([at(tmp_path, "y"), at(tmp_path, "x")], me)

    assert groups(items, tmp_path) == {b"/y": b"/y", b"/x": b"/y"}


def test_symbolic_links_and_directories_are_never_grouped(tmp_path, me):
    (tmp_path / "d").mkdir()
    (tmp_path / "d/f").write_bytes(b"f")
    os.symlink("f", tmp_path / "d/link")
    own(tmp_path)

    items = walk([at(tmp_path, "d")], me)

    assert all(isinstance(i, FileRecord) and i.link_group is None for i in items)
