"""What a read of the catalog may answer instead of rows: the caller's query cannot be
used, or took too long. The API renders them; the decider and the cart processor reject
the request with their message."""

from __future__ import annotations


class InvalidQuery(ValueError):
    """A filter the caller gave cannot be used; the message says how to fix it."""


class QueryTooSlow(RuntimeError):
    """The database cancelled the query at the API's statement time limit."""
