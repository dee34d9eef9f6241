"""The catalog decider process: ``python -m processors.catalog worker``.

It consumes requests and workers' reports (both keyed by user, co-partitioned) and owns
the catalog partitions with the same numbers. The state of a partition is rebuilt from
the catalog topic the first time the partition is seen, and forgotten when a rebalance
takes it away.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from events.codec import UndecodableRecord, decode_message
from events.requests import GetRequested, StageRequested
from events.topics import CATALOG, REPORTS, REQUESTS
from nearline import bus
from nearline.settings import get_settings
from processors.app import decoded, make_app, refuse, send_all
from processors.catalog.decider import Decider, Limits
from processors.catalog.quotas import Quotas
from processors.catalog.state import CatalogState
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


def rebuild(partition: int) -> CatalogState:
    """Fold catalog partition ``partition`` from its first record to its end."""
    state = CatalogState(partition=partition, partitions=settings.kafka.partitions)
    consumer = bus.consumer(settings, group="nearline-catalog-rebuild")
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(CATALOG, partition), timeout=30)
        if high <= low:
            return state
        consumer.assign([TopicPartition(CATALOG, partition, OFFSET_BEGINNING)])
        folded = 0
        while True:
            message = consumer.poll(5)
            if message is None:
                raise RuntimeError(f"catalog partition {partition} ended before {high}")
            offset = message.offset()
            if message.error() or offset is None:
                continue
            try:
                state.apply(
                    decode_message(
                        message.value() or b"", topic=CATALOG, partition=partition, offset=offset
                    )
                )
            except UndecodableRecord as error:
                log.error("catalog fold skips %s", error)
            folded += 1
            if offset + 1 >= high:
                break
        log.info("rebuilt catalog partition %d from %d facts", partition, folded)
        return state
    finally:
        consumer.close()


async def decider_for(partition: int) -> Decider:
    decider = deciders.get(partition)
    if decider is None:
        await app.producer.flush()  # our own facts must be in the log before we read it
        state = await asyncio.get_running_loop().run_in_executor(None, rebuild, partition)
        limits = Limits(settings.index.max_files, settings.index.max_bytes)
        decider = deciders[partition] = Decider(state, limits, select=select, quotas=quotas)
    return decider


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def forget(_sender: Any, revoked: set, **_: Any) -> None:
    # Another worker may write these partitions' facts now: our state would go stale.
    for tp in revoked:
        deciders.pop(tp.partition, None)


@app.agent(inputs, concurrency=1)
async def decide(stream: Any) -> None:
    async for event, record in decoded(stream, app, ("nearline.requests.", "nearline.reports.")):
        decider = await decider_for(record.partition)
        problem = decider.refusal(event)
        if problem is not None:
            await refuse(app, record, event, "unknown-transaction", problem)
            continue
        if isinstance(event, (GetRequested, StageRequested)):  # queries: off the event loop
            loop = asyncio.get_running_loop()
            outgoing = await loop.run_in_executor(None, decider.handle, event)
        else:
            outgoing = decider.handle(event)
        await send_all(app, [(o.topic, o.key, o.event) for o in outgoing])
        log.info("%s decided: %d events", event.schema_name.rsplit(".", 1)[-1], len(outgoing))


if __name__ == "__main__":
    app.main()
