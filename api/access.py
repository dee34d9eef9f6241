"""Who may see and change what: the rule lives in ``projections.queries.access``, shared
with the decider (which selects a GET's files); re-exported for the API."""

from __future__ import annotations

from projections.queries.access import NotAMember, Scope, changeable, visible

__all__ = ["NotAMember", "Scope", "changeable", "visible"]
