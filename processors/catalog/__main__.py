"""The catalog decider process: ``python -m processors.catalog worker``.

It consumes requests and workers' reports (both keyed by user, co-partitioned) and owns
the catalog partitions with the same numbers. The state of a partition is read from its
store and the catalog facts after the store's checkpoint the first time the partition
is seen, saved every few seconds, and forgotten when a rebalance takes it away (D190).
"""

from __future__ import annotations

import logging
from typing import Any

from events.topics import REPORTS, REQUESTS
from nearline.settings import get_settings
from processors.app import decoded, make_app, refuse, send_all
from processors.catalog.decider import Decider, Limits
from processors.catalog.loading import CHECKPOINT_SECONDS, load
from processors.catalog.outgoing import Outgoing
from processors.catalog.partitions import Partitions
from processors.catalog.quotas import Quotas
from processors.catalog.state import CatalogState
from processors.catalog.wiring import read_model

log = logging.getLogger("nearline.catalog")
settings = get_settings()
app = make_app("catalog", settings)
inputs = app.topic(REQUESTS, REPORTS)
# GETs select their files from the catalog projection (D11), read-only; group and tape
# use for quotas come from it too, read only when such a quota is set: both through the
# ports the wiring builds (D140).
select, usage = read_model(settings)
quotas = Quotas(settings.quotas, usage)


def decider_of(state: CatalogState) -> Decider:
    limits = Limits(settings.index.max_files, settings.index.max_bytes)
    return Decider(state, limits, select=select, quotas=quotas)


async def flush() -> None:
    await app.producer.flush()


async def send(outgoing: list[Outgoing]) -> list[Any]:
    return await send_all(app, [(o.topic, o.key, o.event) for o in outgoing])


partitions = Partitions(lambda partition: load(settings, partition), decider_of, flush)


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def forget(_sender: Any, revoked: set, **_: Any) -> None:
    await partitions.revoked({tp.partition for tp in revoked})


@app.timer(CHECKPOINT_SECONDS)
async def checkpoint() -> None:
    async with partitions.turn:
        await partitions.save()


@app.agent(inputs, concurrency=1)
async def decide(stream: Any) -> None:
    async for event, record in decoded(stream, app, ("nearline.requests.", "nearline.reports.")):
        async with partitions.turn:
            decider = await partitions.decider(record.partition)
            problem = decider.refusal(event)
            if problem is not None:
                await refuse(app, record, event, "unknown-transaction", problem)
                continue
            sent = await partitions.decide(decider, record.partition, event, send)
        log.info("%s decided: %d events", event.schema_name.rsplit(".", 1)[-1], sent)


if __name__ == "__main__":
    app.main()
