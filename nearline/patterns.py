"""Users' regular expressions: checked and compiled in this one place, by RE2.

A user's regular expression runs in processes that serve everyone: the decider selecting
a DELETE's files from its fold, SQLite's REGEXP in FIND, GET and carts. Python's ``re``
backtracks, and a pattern such as ``(a+)+$`` takes exponential time on a path of 40
characters: one request would stop the decider for every user. RE2 matches in time
linear in the text, and bounds the memory of a pattern (``max_mem``); a pattern longer
than ``limits.regex_max_length`` is refused before it is compiled (decision D91).

The options follow PostgreSQL's ``~``, which runs the same patterns on a PostgreSQL
catalog: ``.`` matches a newline too, and the escapes PostgreSQL reads otherwise are
refused (``\\b``, ``\\B``, ``\\x`` with more than two hex digits).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

import re2

from nearline.settings import LimitSettings, get_settings

_SHOWN = 60
"""Characters of a refused pattern that its error message quotes."""

_HEX = frozenset("0123456789abcdefABCDEF")
_AMBIGUOUS = {
    "b": "a word boundary to RE2 but a backspace to PostgreSQL",
    "B": "no word boundary to RE2 but a backslash to PostgreSQL",
}


class Pattern(Protocol):
    """A compiled pattern: ``search`` finds it anywhere in the text (as ``re.search``)."""

    def search(self, text: str) -> object | None: ...


class BadPattern(ValueError):
    """A user's regular expression that cannot be used; the message says why and what to do."""


def compiled(pattern: str, limits: LimitSettings | None = None) -> Pattern:
    """``pattern`` compiled by RE2 within ``limits`` (the settings' by default), or
    BadPattern. Compiled patterns are kept, so calling this for every row is cheap."""
    limits = limits or get_settings().limits
    return _compiled(pattern, limits.regex_max_length, limits.regex_max_mem)


def matches(pattern: str, text: str) -> bool:
    """Whether ``pattern`` is found in ``text``: SQLite's REGEXP."""
    return compiled(pattern).search(text) is not None


@lru_cache(maxsize=64)
def _compiled(pattern: str, max_length: int, max_mem: int) -> Pattern:
    if len(pattern) > max_length:
        raise BadPattern(
            f"The regular expression has {len(pattern)} characters; at most {max_length} "
            "are allowed. Shorten it, or narrow the selection by label, holding id or tags."
        )
    if "\0" in pattern or not _is_unicode(pattern):
        raise BadPattern(
            "The regular expression holds characters that are not text (NUL, lone surrogates)."
        )
    _refuse_ambiguous_escapes(pattern)
    options = re2.Options()
    options.max_mem = max_mem
    options.dot_nl = True  # as PostgreSQL's ~
    options.never_capture = True  # only whether it matches counts
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as error:
        reason = _reason(error)
        if "pattern too large" in reason:
            raise BadPattern(
                f"The regular expression {_shown(pattern)} needs more than the "
                f"{max_mem // 1024} KiB a pattern may use; simplify it (fewer or smaller "
                "counted repetitions such as {n}, fewer Unicode classes)."
            ) from None
        raise BadPattern(
            f"{_shown(pattern)} is not a valid regular expression: {reason}. Escape special "
            "characters such as ( [ + * ? with a backslash; see the RE2 syntax."
        ) from None


def _refuse_ambiguous_escapes(pattern: str) -> None:
    r"""Refuse the escapes whose meaning differs between RE2 and PostgreSQL, so that a
    DELETE never selects what FIND on a PostgreSQL catalog did not show: ``\b`` and
    ``\B``, and ``\x`` with more than two hex digits (RE2 takes two, PostgreSQL all)."""
    i = 0
    while i < len(pattern) - 1:
        if pattern[i] != "\\":
            i += 1
            continue
        escape = pattern[i + 1]
        meaning = _AMBIGUOUS.get(escape)
        if meaning is not None:
            raise BadPattern(
                f"\\{escape} in {_shown(pattern)} means {meaning}, so it is refused. "
                "Match the separator itself, for example (^|/|_)name($|/|_|\\.)."
            )
        digits = pattern[i + 2 : i + 5]
        if escape == "x" and len(digits) == 3 and all(c in _HEX for c in digits):
            two, then = pattern[i : i + 4], digits[2]
            raise BadPattern(
                f"{two + then!r} in {_shown(pattern)} is one character to PostgreSQL but "
                f"{two!r} followed by {then!r} to RE2, so it is refused; write "
                f"({two}){then} for the latter."
            )
        i += 2


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _reason(error: Exception) -> str:
    """RE2's reason (bytes), which quotes the part of the pattern at fault: shortened."""
    reason = error.args[0] if error.args else str(error)
    text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return text if len(text) <= _SHOWN + 20 else text[: _SHOWN + 20] + "..."


def _shown(pattern: str) -> str:
    return repr(pattern if len(pattern) <= _SHOWN else pattern[:_SHOWN] + "...")
