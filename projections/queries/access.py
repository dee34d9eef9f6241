"""Who may see and change what: the one place the rule lives.

A user sees and changes their own holdings and transactions. With ``groupall`` they may
also *read* (list, find, stat, get) those of a group they belong to; never change them.
Every query filters with ``visible``; every pre-check of a change uses ``changeable``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, Table


class Member(Protocol):
    """A caller as the API identified them: a user and their groups."""

    @property
    def user(self) -> str: ...
    @property
    def groups(self) -> tuple[str, ...]: ...
    @property
    def primary_group(self) -> str | None: ...


class NotAMember(Exception):
    """The caller named a group they do not belong to."""

    def __init__(self, group: str) -> None:
        super().__init__(f"User is not a member of the group {group}.")
        self.group = group


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose rows a request reaches: the caller's own (in ``group`` if one is named), or
    with ``groupall`` every member's in ``group``."""

    user: str
    group: str | None = None
    groupall: bool = False

    @classmethod
    def of(cls, identity: Member, group: str | None, groupall: bool = False) -> Scope:
        """The scope of a caller's request; NotAMember if they name a group not theirs.
        ``groupall`` without a group means the caller's primary group."""
        if group is not None and group not in identity.groups:
            raise NotAMember(group)
        if groupall and group is None:
            group = identity.primary_group
            if group is None:
                raise NotAMember("(none: your account has no group)")
        return cls(identity.user, group, groupall)


def visible(scope: Scope, table: Table) -> ColumnElement[bool]:
    """Rows of ``table`` (any table with ``user`` and ``group`` columns) the scope reads."""
    if scope.groupall:
        return table.c.group == scope.group
    mine = table.c.user == scope.user
    return mine & (table.c.group == scope.group) if scope.group is not None else mine


def changeable(scope: Scope, table: Table) -> ColumnElement[bool]:
    """Rows the scope may change: the caller's own, whatever ``groupall`` says."""
    return visible(Scope(scope.user, scope.group), table)
