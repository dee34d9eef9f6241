"""What the requests of one aggregate share in a recall worker (D182): one stage, and the
members being put back into the cache, each by the request that claimed it first.

Requests of one aggregate come to one worker (the topic is keyed by aggregate). Each
claims the members no other request has; it stages the aggregate if no request of it has
(the others wait for that stage), reads its claimed members while the others read theirs,
and waits for the members other requests claimed. A claim that failed is taken again by
the next attempt. When the aggregate's last request ends, all is forgotten: a later
request finds the aggregate still on the endpoint's disk (no stage) and puts its members
back again, rather than trust cache copies that eviction may be removing by then.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["PutBack", "Shared", "SharedAggregates"]


class PutBack(NamedTuple):
    """A member's outcome: the key of its cache copy, or why it is not in the cache."""

    key: str | None
    failure: str | None = None


@dataclass
class Shared:
    """One aggregate's stage and claimed members, and how many requests use them."""

    stage: asyncio.Future[bool] | None = None
    claims: dict[int, asyncio.Future[PutBack]] = field(default_factory=dict)
    users: int = 0

    def claim(self, file_id: int) -> asyncio.Future[PutBack] | None:
        """A new claim on the member (``None`` if another request holds a live one)."""
        held = self.claims.get(file_id)
        if held is not None and not (
            held.done() and (held.cancelled() or held.exception() is not None)
        ):
            return None
        claim: asyncio.Future[PutBack] = asyncio.get_running_loop().create_future()
        self.claims[file_id] = claim
        return claim

    def stage_failed(self) -> None:
        """A read or stage failed: the aggregate may have gone offline, so the next
        request checks (and stages) it again rather than trust the finished stage."""
        if self.stage is not None and self.stage.done():
            self.stage = None


class SharedAggregates:
    """Per aggregate, what its requests share, while any of them runs."""

    def __init__(self) -> None:
        self.by_aggregate: dict[str, Shared] = {}

    def enter(self, aggregate: str) -> Shared:
        shared = self.by_aggregate.setdefault(aggregate, Shared())
        shared.users += 1
        return shared

    def leave(self, aggregate: str, shared: Shared) -> None:
        shared.users -= 1
        if shared.users == 0 and self.by_aggregate.get(aggregate) is shared:
            del self.by_aggregate[aggregate]
