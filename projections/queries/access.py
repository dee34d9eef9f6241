"""Who may see and change what, as conditions on the tables: the one place the rule
lives (``domain.access.Scope`` says whose rows a request reaches).

Every query filters with ``visible``; every pre-check of a change uses ``changeable``.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Table

from domain.access import Scope


def visible(scope: Scope, table: Table) -> ColumnElement[bool]:
    """Rows of ``table`` (any table with ``user`` and ``group`` columns) the scope reads."""
    if scope.groupall:
        return table.c.group == scope.group
    mine = table.c.user == scope.user
    return mine & (table.c.group == scope.group) if scope.group is not None else mine


def changeable(scope: Scope, table: Table) -> ColumnElement[bool]:
    """Rows the scope may change: the caller's own, whatever ``groupall`` says."""
    return visible(Scope(scope.user, scope.group), table)
