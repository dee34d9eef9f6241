"""Filters shared by the queries: which holdings a request selects, tags, regexes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, exists, false, select

from nearline.patterns import BadPattern, compiled
from projections import tables as t
from projections.queries import InvalidQuery
from projections.queries.access import Scope, visible


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


def parse_tag(text: str) -> tuple[str, str]:
    """``key:value`` (the value may itself contain colons) as a pair."""
    key, sep, value = text.partition(":")
    key, value = key.strip(), value.strip()
    if not sep or not key:
        raise InvalidQuery(f"{text!r} is not a tag; write tags as key:value.")
    return key, value


def parse_tags(text: str) -> dict[str, str]:
    """NLDS's query form ``k:v,k2:v2`` (a trailing comma is allowed) as a dict."""
    return dict(parse_tag(item) for item in text.split(",") if item.strip())
