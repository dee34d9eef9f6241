"""A COPY into fresh tables goes in binary where every column has a plain type."""

from __future__ import annotations

from projections import tables as t
from projections.writes import _binary_types


def test_plain_columns_go_in_binary_with_their_postgresql_types():
    names = ("id", "holding_id", "path", "mode", "state")
    assert _binary_types(t.files, names) == ["int8", "int8", "bytea", "int4", "varchar"]
    assert _binary_types(t.holdings, ("deleted",)) == ["bool"]


def test_a_json_column_keeps_the_copy_in_text():
    # status_transactions.warnings is JSON: psycopg's text COPY writes its lists.
    names = tuple(c.name for c in t.status_transactions.c)
    assert "warnings" in names
    assert _binary_types(t.status_transactions, names) is None
