"""FIND: re-exported from ``projections.queries.files``, which GET's selection shares."""

from __future__ import annotations

from projections.queries.files import FoundFile, Location, find_files

__all__ = ["FoundFile", "Location", "find_files"]
