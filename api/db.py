"""The API's connection to the catalog database: ``projections.queries.reader``'s
read-only engine, shared with the decider; re-exported here."""

from __future__ import annotations

from projections.queries.reader import STATEMENT_TIMEOUT_MS, _sqlite_reader, catalog_reader

__all__ = ["STATEMENT_TIMEOUT_MS", "_sqlite_reader", "catalog_reader"]
