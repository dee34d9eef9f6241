"""The catalog decider process: ``python -m processors.catalog worker``.

It consumes requests and workers' reports (both keyed by user, co-partitioned) and owns
the catalog partitions with the same numbers. The state of a partition is read from its
store and the catalog facts after the store's checkpoint the first time the partition
is seen, saved every few seconds, and forgotten when a rebalance takes it away (D190).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from events.topics import CATALOG, REPORTS, REQUESTS
from nearline.settings import get_settings
from processors.app import decoded, make_app, refuse, send_all
from processors.catalog.decider import Decider, Limits
from processors.catalog.loading import CHECKPOINT_ROWS, CHECKPOINT_SECONDS, load
from processors.catalog.quotas import Quotas
from processors.catalog.store import StoreTaken
from processors.catalog.wiring import read_model

log = logging.getLogger("nearline.catalog")
settings = get_settings()
app = make_app("catalog", settings)
inputs = app.topic(REQUESTS, REPORTS)
deciders: dict[int, Decider] = {}
# GETs select their files from the catalog projection (D11), read-only; group and tape
# use for quotas come from it too, read only when such a quota is set: both through the
# ports the wiring builds (D140).
select, usage = read_model(settings)
quotas = Quotas(settings.quotas, usage)


# Decisions and checkpoints take turns: a checkpoint saves only facts the log holds.
deciding = asyncio.Lock()
last_saved = time.monotonic()


async def decider_for(partition: int) -> Decider:
    decider = deciders.get(partition)
    if decider is None:
        await app.producer.flush()  # our own facts must be in the log before we read it
        loop = asyncio.get_running_loop()
        state = await loop.run_in_executor(None, load, settings, partition)
        limits = Limits(settings.index.max_files, settings.index.max_bytes)
        decider = deciders[partition] = Decider(state, limits, select=select, quotas=quotas)
    return decider


async def save(force: bool = False) -> None:
    """Checkpoint the folds with enough unsaved rows, or all of them once a while."""
    global last_saved
    due = force or time.monotonic() - last_saved >= CHECKPOINT_SECONDS
    loop = asyncio.get_running_loop()
    for partition, decider in list(deciders.items()):
        state = decider.state
        if state.unsaved() and (due or state.unsaved() >= CHECKPOINT_ROWS):
            try:
                await loop.run_in_executor(None, state.checkpoint)
            except StoreTaken as error:
                log.warning("%s: reading partition %d again", error, partition)
                forget_decider(partition)
    if due:
        last_saved = time.monotonic()


def forget_decider(partition: int) -> None:
    decider = deciders.pop(partition, None)
    if decider is not None:
        decider.state.store.close()


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def forget(_sender: Any, revoked: set, **_: Any) -> None:
    # Another worker may write these partitions' facts now: our state would go stale.
    async with deciding:
        await save(force=True)
        for tp in revoked:
            forget_decider(tp.partition)


@app.timer(CHECKPOINT_SECONDS)
async def checkpoint() -> None:
    async with deciding:
        await save()


@app.agent(inputs, concurrency=1)
async def decide(stream: Any) -> None:
    async for event, record in decoded(stream, app, ("nearline.requests.", "nearline.reports.")):
        async with deciding:
            decider = await decider_for(record.partition)
            problem = decider.refusal(event)
            if problem is not None:
                await refuse(app, record, event, "unknown-transaction", problem)
                continue
            # Queries (GET, STAGE) and reads of the store run off the event loop.
            loop = asyncio.get_running_loop()
            outgoing = await loop.run_in_executor(None, decider.handle, event)
            landed = await send_all(app, [(o.topic, o.key, o.event) for o in outgoing])
            for sent, where in zip(outgoing, landed, strict=True):
                if sent.topic == CATALOG and where.partition == record.partition:
                    decider.state.folded(where.offset, sent.event.event_id)
            await save()
        log.info("%s decided: %d events", event.schema_name.rsplit(".", 1)[-1], len(outgoing))


if __name__ == "__main__":
    app.main()
