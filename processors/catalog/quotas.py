"""Quotas: how many bytes a user and a group may keep in the cache and on tape.

A user's cache use is exact: the decider's fold counts every reserved or stored file of
the partition's users. A group spans partitions (users are the partition key), so its
use, and tape use (tape facts are not folded), are read from the projection: they lag
the log a little, so concurrent PUTs of a group's members may each overshoot the group's
limit by at most one sub-batch. Without a group or tape limit nothing is read.
"""

from __future__ import annotations

from typing import Protocol

from nearline.settings import Quota, QuotaSettings


class Usage(Protocol):
    """Bytes in use as the projection knows them."""

    def group_cache_bytes(self, group: str) -> int: ...

    def user_tape_bytes(self, user: str) -> int: ...

    def group_tape_bytes(self, group: str) -> int: ...


class Quotas:
    def __init__(self, settings: QuotaSettings | None = None, usage: Usage | None = None) -> None:
        self.settings = settings or QuotaSettings()
        self.usage = usage

    def refusal(self, user: str, group: str, user_cache_use: int, adding: int) -> str | None:
        """Why ``adding`` more bytes (0: a new PUT) is refused, or None if it fits."""
        user_quota = self.settings.users.get(user, Quota())
        group_quota = self.settings.groups.get(group, Quota())
        checks = [
            ("cache", "user", user, user_quota.cache_bytes, lambda: user_cache_use),
            ("cache", "group", group, group_quota.cache_bytes, lambda: self._group_cache(group)),
            ("tape", "user", user, user_quota.tape_bytes, lambda: self._user_tape(user)),
            ("tape", "group", group, group_quota.tape_bytes, lambda: self._group_tape(group)),
        ]
        for kind, whose, name, limit, use_of in checks:
            if limit is None:
                continue
            use = use_of()
            if use + adding > limit or (adding == 0 and use >= limit):
                return over_quota(kind, whose, name, use, limit, adding)
        return None

    def _group_cache(self, group: str) -> int:
        return self.usage.group_cache_bytes(group) if self.usage else 0

    def _user_tape(self, user: str) -> int:
        return self.usage.user_tape_bytes(user) if self.usage else 0

    def _group_tape(self, group: str) -> int:
        return self.usage.group_tape_bytes(group) if self.usage else 0


def over_quota(kind: str, whose: str, name: str, use: int, limit: int, adding: int) -> str:
    what = f"this sub-batch adds {adding} bytes" if adding else "nothing more fits"
    return (
        f"Over quota: the {kind} quota of {whose} {name} is {limit} bytes and {use} bytes "
        f"are in use; {what}. Delete files or ask for a larger quota."
    )
