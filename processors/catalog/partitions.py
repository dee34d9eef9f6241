"""The deciders of the partitions a catalog process owns, and when their folds are saved.

Decisions and checkpoints take turns under one lock, so a checkpoint holds only facts the
broker acknowledged (D190): a decision's facts are folded at once (write through), and the
offsets they landed at, from the acknowledgements, move the fold's offset on. A decision
that fails part way leaves a fold with facts the log may not hold: that decider is
dropped unsaved, and the next record of its partition reads the store and the log again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from events.base import Event
from events.topics import CATALOG
from processors.catalog.decider import Decider
from processors.catalog.loading import CHECKPOINT_ROWS, CHECKPOINT_SECONDS
from processors.catalog.outgoing import Outgoing
from processors.catalog.state import CatalogState
from processors.catalog.store import StoreTaken

log = logging.getLogger("nearline.catalog")

Send = Callable[[list[Outgoing]], Awaitable[list[Any]]]
"""Sends events and returns where each landed (objects with ``partition`` and ``offset``)."""
Load = Callable[[int], CatalogState]
"""A partition's fold from its store and the log (``loading.load``)."""


class Partitions:
    def __init__(
        self,
        load: Load,
        make: Callable[[CatalogState], Decider],
        before_load: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.load, self.make, self.before_load = load, make, before_load
        self.deciders: dict[int, Decider] = {}
        self.turn = asyncio.Lock()
        self.last_saved = time.monotonic()

    async def decider(self, partition: int) -> Decider:
        """The partition's decider, its fold read first if this process has none."""
        decider = self.deciders.get(partition)
        if decider is None:
            if self.before_load is not None:
                await self.before_load()  # our own facts in the log before we read it
            loop = asyncio.get_running_loop()
            state = await loop.run_in_executor(None, self.load, partition)
            decider = self.deciders[partition] = self.make(state)
        return decider

    async def decide(self, decider: Decider, partition: int, event: Event, send: Send) -> int:
        """Decide ``event`` and send what it decides; the number of events sent. Call
        with ``turn`` held."""
        loop = asyncio.get_running_loop()
        try:
            # Queries (GET, STAGE) and reads of the store run off the event loop.
            outgoing = await loop.run_in_executor(None, decider.handle, event)
            landed = await send(outgoing)
        except BaseException:
            self.forget(partition)  # never saved: its fold may hold facts the log does not
            raise
        for sent, where in zip(outgoing, landed, strict=True):
            if sent.topic == CATALOG and where.partition == partition:
                decider.state.folded(where.offset, sent.event.event_id)
        await self.save()
        return len(outgoing)

    async def save(self, force: bool = False) -> None:
        """Checkpoint the folds with enough unsaved rows, or every few seconds all that
        changed. Call with ``turn`` held."""
        due = force or time.monotonic() - self.last_saved >= CHECKPOINT_SECONDS
        loop = asyncio.get_running_loop()
        for partition, decider in list(self.deciders.items()):
            state = decider.state
            if state.unsaved() and (due or state.unsaved() >= CHECKPOINT_ROWS):
                try:
                    await loop.run_in_executor(None, state.checkpoint)
                except StoreTaken as error:
                    log.warning("%s: reading partition %d again", error, partition)
                    self.forget(partition)
        if due:
            self.last_saved = time.monotonic()

    def forget(self, partition: int) -> None:
        decider = self.deciders.pop(partition, None)
        if decider is not None:
            decider.state.store.close()

    async def revoked(self, partitions: set[int]) -> None:
        """Another worker may write these partitions' facts now: save, then let go."""
        async with self.turn:
            await self.save(force=True)
            for partition in partitions:
                self.forget(partition)
