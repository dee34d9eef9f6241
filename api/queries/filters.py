"""Filters shared by the queries: re-exported from ``projections.queries.filters``."""

from __future__ import annotations

from projections.queries.filters import (
    HoldingSelector,
    checked_regex,
    checked_text,
    holding_conditions,
    is_plain_text,
    parse_tag,
    parse_tags,
)

__all__ = [
    "HoldingSelector",
    "checked_regex",
    "checked_text",
    "holding_conditions",
    "is_plain_text",
    "parse_tag",
    "parse_tags",
]
