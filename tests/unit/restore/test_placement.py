"""Destinations are computed on bytes and never lead outside their place.

This is the lexical half; links on disk are met by the requester's worker, and tested
with the restore itself (``test_as_the_requester``)."""

from __future__ import annotations

import pytest

from processors.transfer_get.placement import (
    UnsafePath,
    destination,
    normal_directory,
    strictly_below,
)


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


@pytest.mark.parametrize(
    ("target", "expected"),
    [(b"/out", b"/out"), (b"//out/./x//", b"/out/x"), (b"/", b"/"), (b"/a b/\xff", b"/a b/\xff")],
)
def test_normal_directory(target, expected):
    assert normal_directory(target) == expected
