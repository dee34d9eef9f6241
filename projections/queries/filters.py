"""Filters shared by the queries: which holdings a request selects, tags, regexes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, exists, false, select

from domain.access import Scope
from domain.queries import InvalidQuery
from nearline.patterns import BadPattern, compiled
from projections import tables as t
from projections.queries.access import visible


@dataclass(frozen=True)
class HoldingSelector:
    """Which of the visible holdings a request is about; every given filter must hold."""

    label: str | None = None
    label_regex: bool = False
    holding_id: int | None = None
    transaction_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


def holding_conditions(scope: Scope, selector: HoldingSelector) -> list[ColumnElement[bool]]:
    """Conditions on ``holdings`` for the holdings ``scope`` sees that ``selector`` picks."""
    h = t.holdings
    conditions = [visible(scope, h), h.c.deleted == false()]
    checked_text(selector.label, "label")
    checked_text(selector.transaction_id, "transaction id")
    for key, value in selector.tags.items():
        checked_text(key + value, "tags")
    if selector.label is not None:
        if selector.label_regex:
            conditions.append(h.c.label.regexp_match(checked_regex(selector.label)))
        else:
            conditions.append(h.c.label == selector.label)
    if selector.holding_id is not None:
        conditions.append(h.c.id == selector.holding_id)
    if selector.transaction_id is not None:
        conditions.append(
            h.c.id.in_(
                select(t.transactions.c.holding_id).where(
                    t.transactions.c.transaction_id == selector.transaction_id
                )
            )
        )
    tag = t.tags
    for key, value in selector.tags.items():  # several tags: all of them
        same = (tag.c.holding_id == h.c.id) & (tag.c.key == key) & (tag.c.value == value)
        conditions.append(exists().where(same))
    return conditions


def is_plain_text(value: str) -> bool:
    """Whether a value can be stored and compared as text: valid Unicode without NUL
    (JSON can carry lone surrogates and NUL; neither Avro nor PostgreSQL takes them)."""
    if "\0" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def checked_text(value: str | None, what: str) -> str | None:
    """``value`` if it is plain text (see ``is_plain_text``); else InvalidQuery."""
    if value is not None and not is_plain_text(value):
        raise InvalidQuery(f"The {what} holds characters that are not text (NUL, lone surrogates).")
    return value


def checked_regex(pattern: str) -> str:
    """The pattern, if it is a regular expression we can search with (``nearline.patterns``:
    RE2, within the size limits; the same check on SQLite and PostgreSQL); else
    InvalidQuery."""
    try:
        compiled(pattern)
    except BadPattern as error:
        raise InvalidQuery(str(error)) from None
    return pattern


ESCAPED = frozenset("\\:, ")
"""What a backslash escapes in the query form of tags; any other backslash is itself."""

Token = tuple[str, bool]
"""A character of a tag's query form, and whether a backslash escaped it."""


def parse_tag(text: str) -> tuple[str, str]:
    """``key:value`` as a pair. The first ``:`` that no backslash escapes ends the key (the
    value may hold more colons); ``\\:``, ``\\,``, ``\\ `` and ``\\\\`` stand for the character
    after the backslash. Unescaped space around the key and the value is not part of them.
    So every tag that can be stored can be selected, whatever characters it holds."""
    return _pair(_tokens(text), text)


def parse_tags(text: str) -> dict[str, str]:
    """NLDS's query form ``k:v,k2:v2`` (a trailing comma is allowed) as a dict; commas,
    colons and spaces escaped as in ``parse_tag``."""
    items = _split(_tokens(text), ",")
    return dict(_pair(item, text) for item in items if _text(item))


def _pair(tokens: list[Token], text: str) -> tuple[str, str]:
    pieces = _split(tokens, ":", most=1)
    if len(pieces) != 2 or not _text(pieces[0]):
        raise InvalidQuery(
            f"{text!r} is not a tag; write tags as key:value (a backslash before a colon, "
            "comma or space makes it part of the key or value)."
        )
    return _text(pieces[0]), _text(pieces[1])


def _tokens(text: str) -> list[Token]:
    tokens, i = [], 0
    while i < len(text):
        escaped = text[i] == "\\" and i + 1 < len(text) and text[i + 1] in ESCAPED
        i += 1 if escaped else 0
        tokens.append((text[i], escaped))
        i += 1
    return tokens


def _split(tokens: list[Token], separator: str, most: int = -1) -> list[list[Token]]:
    """``tokens`` split at each unescaped ``separator``, at most ``most`` times."""
    pieces: list[list[Token]] = [[]]
    for char, escaped in tokens:
        if char == separator and not escaped and most != 0:
            pieces.append([])
            most -= 1
        else:
            pieces[-1].append((char, escaped))
    return pieces


def _text(tokens: list[Token]) -> str:
    """The characters, without the unescaped space at either end."""
    first, last = 0, len(tokens)
    while first < last and tokens[first][0].isspace() and not tokens[first][1]:
        first += 1
    while last > first and tokens[last - 1][0].isspace() and not tokens[last - 1][1]:
        last -= 1
    return "".join(char for char, _ in tokens[first:last])
