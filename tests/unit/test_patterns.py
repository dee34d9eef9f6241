"""Users' regular expressions (``nearline.patterns``): RE2, linear in the text, so that the
patterns that make a backtracking engine take exponential time finish at once; a pattern
too long, too large or invalid is refused with a message that says what is wrong."""

from __future__ import annotations

import time

import pytest

from nearline.patterns import BadPattern, compiled, matches
from nearline.settings import LimitSettings, Settings

CATASTROPHIC = [
    # pattern, a text of 30-50 characters on which Python's re backtracks for hours
    (r"(a+)+$", "/data/" + "a" * 40 + "!"),
    (r"(x+x+)+y", "/data/" + "x" * 44),
    (r"(a|aa)+$", "/" + "a" * 48 + "b"),
    (r"^(\w+\s?)*$", "nearline" * 4 + " archive!"),
    (r"^(/?[a-z0-9]+)+\.nc$", "/data/" + "abcdefgh" * 5 + ".nc4"),
    (r"(\d+)*x", "/run/" + "1" * 40),
]


@pytest.mark.parametrize(("pattern", "text"), CATASTROPHIC)
def test_catastrophic_patterns_finish_at_once(pattern, text):
    started = time.monotonic()
    for _ in range(100):
        found = matches(pattern, text)
    assert time.monotonic() - started < 1.0
    assert found is False


def test_a_pattern_longer_than_the_limit_is_refused_with_the_limit():
    with pytest.raises(BadPattern, match="has 1001 characters; at most 1000 are allowed"):
        compiled("x" * 1001)
    compiled("x" * 1000)
    small = LimitSettings(regex_max_length=5)
    with pytest.raises(BadPattern, match="at most 5 are allowed"):
        compiled("abcdef", small)


def test_the_limits_are_settings():
    limits = Settings(limits={"regex_max_length": 10, "regex_max_mem": 1 << 20}).limits
    assert (limits.regex_max_length, limits.regex_max_mem) == (10, 1 << 20)
    assert LimitSettings().regex_max_length == 1000


def test_a_pattern_needing_too_much_memory_is_refused():
    with pytest.raises(BadPattern, match="needs more than the 1024 KiB"):
        compiled(r"\pL{300}", LimitSettings(regex_max_mem=1 << 20))


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("(", "'(' is not a valid regular expression: missing )"),
        ("*", "is not a valid regular expression"),
        ("a{2,1}", "invalid repetition size"),
        (r"(a)\1", "invalid escape sequence"),  # a backreference: no linear engine has it
        ("(?=a)", "is not a valid regular expression"),
        ("a\x00", "not text"),
        ("\ud800", "not text"),
        (r"\bname", "word boundary to RE2 but a backspace to PostgreSQL"),
        (r"a\Bb", "backslash to PostgreSQL"),
        (r"\x41b", "one character to PostgreSQL"),
    ],
)
def test_unusable_patterns_say_what_is_wrong(pattern, words):
    with pytest.raises(BadPattern) as refused:
        compiled(pattern)
    assert words in str(refused.value)


def test_a_long_refused_pattern_is_quoted_short():
    with pytest.raises(BadPattern) as refused:
        compiled("(" + "a" * 500)
    assert len(str(refused.value)) < 350


def test_escaped_backslashes_are_not_escapes():
    # Path text shows bytes beyond UTF-8 as \xNN: \\xff finds them.
    assert matches(r"\\xff\\xfe", r"/data/bad-\xff\xfe.bin")
    assert matches(r"\\bin", r"/x\bin")


def test_newlines_follow_postgresql():
    # Paths may hold newlines; PostgreSQL's ~ lets . match one, and $ is the text's end.
    assert matches("a.b", "a\nb")
    assert not matches("a$", "a\n")
