"""Paths as text: UTF-8 with invalid bytes as \\xNN, exact bytes in base64 when needed,
and the catalog's path-text function agreeing with Python byte for byte."""

from __future__ import annotations

import base64
import random

import pytest
from sqlalchemy import create_engine, event, func, literal, select

from api.paths import path_b64, path_from_b64, path_from_text, path_text
from projections.queries.reader import _sqlite_reader

TRICKY = [
    b"/plain/ascii.nc",
    b"/back\\slash",
    b"/bad-\xff\xfe-name",
    "/données/漢字/✓".encode(),
    b"\xe2\x82",
    b"\xe2\x82A",
    b"\xed\xa0\x80",  # an encoded surrogate is not UTF-8
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    b"\xc0\xaf",  # overlong
    b"abc\xf0\x9f\x98",
]


@pytest.mark.parametrize("path", TRICKY)
def test_text_and_base64_carry_every_path(path):
    text = path_text(path)
    assert text.encode("utf-8")  # always valid text
    exact = path_b64(path)
    if exact is None:
        assert path_from_text(text) == path
    else:
        assert path_from_b64(exact) == path
        assert "\\x" in text


def test_surrogate_escaped_text_is_the_original_bytes():
    import os

    assert path_from_text(os.fsdecode(b"/x/\xff")) == b"/x/\xff"


def test_bad_base64_is_a_value_error():
    with pytest.raises(ValueError):
        path_from_b64("!!")
    assert path_from_b64(base64.b64encode(b"/a").decode()) == b"/a"


def test_the_sqlite_function_is_python_s():
    engine = create_engine("sqlite://")
    event.listen(engine, "connect", _sqlite_reader)
    rng = random.Random(7)
    samples = TRICKY + [
        bytes(rng.choice(b"/A\\\x80\xbf\xc2\xe0\xed\xef\xf0\xf4\xf5\xa0\x90") for _ in range(6))
        for _ in range(300)
    ]
    with engine.connect() as conn:
        for path in samples:
            got = conn.execute(select(func.nearline_path_text(literal(path)))).scalar()
            assert got == path_text(path), path
