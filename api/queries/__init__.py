"""The API's read-only queries, one module per noun. The shared ones (access, filters,
files) live in ``projections.queries``, which the decider uses too; the names are
re-exported here."""

from __future__ import annotations

from projections.queries import InvalidQuery, QueryTooSlow, chunked, database_errors

__all__ = ["InvalidQuery", "QueryTooSlow", "chunked", "database_errors"]
