"""Taking a file in from the ingest folder (``stores.posix.beneath``) on a real file
system: the path is walked once, without links, and the file removed through its
folder's descriptor, so that a folder swapped for a link meanwhile moves nothing else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stores.posix.beneath import Refused, components, take_beneath


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """The ingest folder, and a folder beside it that nothing may reach through it."""
    ingest, outside = tmp_path / "ingest", tmp_path / "outside"
    ingest.mkdir()
    outside.mkdir()
    (outside / "data").write_bytes(b"not to be moved in")
    return ingest, outside


def test_a_file_below_is_read_and_removed(folders: tuple[Path, Path]) -> None:
    ingest, _ = folders
    (ingest / "run1").mkdir()
    (ingest / "run1" / "data").write_bytes(b"moved in")
    for given in ("run1/data", f"{ingest}/run1/data", f"{ingest}/./run1//data"):
        (ingest / "run1" / "data").write_bytes(b"moved in")
        with take_beneath(str(ingest), given) as taken:
            assert os.read(taken.fd, 100) == b"moved in"
            assert taken.remove()
        assert not (ingest / "run1" / "data").exists()


def test_paths_that_leave_the_folder_are_refused(folders: tuple[Path, Path]) -> None:
    ingest, outside = folders
    for given in (
        str(outside / "data"),
        f"{ingest}/../outside/data",
        "../outside/data",
        str(ingest),
        ".",
        f"{ingest}-other/data",
    ):
        with pytest.raises(Refused):
            take_beneath(str(ingest), given)


def test_a_link_anywhere_on_the_way_is_refused(folders: tuple[Path, Path]) -> None:
    ingest, outside = folders
    (ingest / "run1").symlink_to(outside)
    (ingest / "data").symlink_to(outside / "data")
    for given in ("run1/data", "data"):
        with pytest.raises(Refused, match="links are not followed"):
            take_beneath(str(ingest), given)
    assert (outside / "data").exists()


def test_a_folder_swapped_for_a_link_after_the_open_moves_nothing_outside(
    folders: tuple[Path, Path],
) -> None:
    """The swap a check-then-use by path loses to: the name is removed in the folder
    that was walked, wherever that folder is now."""
    ingest, outside = folders
    (ingest / "run1").mkdir()
    (ingest / "run1" / "data").write_bytes(b"moved in")
    with take_beneath(str(ingest), "run1/data") as taken:
        (ingest / "run1").rename(ingest / "run1-away")
        (ingest / "run1").symlink_to(outside)
        assert taken.remove()
    assert (outside / "data").read_bytes() == b"not to be moved in"
    assert not (ingest / "run1-away" / "data").exists()


def test_a_name_that_names_another_file_by_then_is_left(folders: tuple[Path, Path]) -> None:
    ingest, _ = folders
    (ingest / "data").write_bytes(b"first")
    with take_beneath(str(ingest), "data") as taken:
        (ingest / "data").unlink()
        (ingest / "data").write_bytes(b"second")
        assert not taken.remove()
    assert (ingest / "data").read_bytes() == b"second"


def test_what_is_not_a_regular_file_is_refused_without_waiting(
    folders: tuple[Path, Path],
) -> None:
    ingest, _ = folders
    os.mkfifo(ingest / "pipe")  # opening it for reading would wait for a writer
    (ingest / "folder").mkdir()
    for given in ("pipe", "folder"):
        with pytest.raises(Refused, match="not a regular file"):
            take_beneath(str(ingest), given)


def test_components_are_the_names_below_the_folder() -> None:
    assert components("/srv/ingest", "/srv/ingest/a/b") == ["a", "b"]
    assert components("/srv/ingest/", "a/./b") == ["a", "b"]
    with pytest.raises(Refused):
        components("/srv/ingest", "/srv/ingestion/a")
