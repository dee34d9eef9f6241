"""Whose rows a request reaches: a user's own, or with ``groupall`` a group's.

A user sees and changes their own holdings and transactions. With ``groupall`` they may
also *read* (list, find, stat, get) those of a group they belong to; never change them.
The queries turn a ``Scope`` into conditions (``projections.queries.access``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
