"""The catalog process's deciders and their checkpoints (D190): offsets come from the
broker's acknowledgements, a failed decision is never saved, a store taken by another
process is read again."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from processors.catalog.decider import Decider
from processors.catalog.outgoing import Outgoing
from processors.catalog.partitions import Partitions
from processors.catalog.state import CatalogState
from tests.unit.catalog.test_decider import entry, indexed, put


@dataclass
class Landed:
    partition: int
    offset: int


class Broker:
    """Acknowledges every event at the next offset of its topic's partition 2."""

    def __init__(self) -> None:
        self.offsets: dict[str, int] = {}
        self.fail = False

    async def send(self, outgoing: list[Outgoing]) -> list[Landed]:
        if self.fail:
            raise ConnectionError("the broker went away")
        landed = []
        for o in outgoing:
            offset = self.offsets.get(o.topic, 0)
            self.offsets[o.topic] = offset + 1
            landed.append(Landed(2, offset))
        return landed


def partitions_at(path: Path) -> Partitions:
    return Partitions(
        lambda p: CatalogState.open(path, p, 6), lambda state: Decider(state, clock=lambda: 7)
    )


async def decide(partitions: Partitions, broker: Broker, event) -> None:
    async with partitions.turn:
        decider = await partitions.decider(2)
        await partitions.decide(decider, 2, event, broker.send)


def saved_offset(path: Path) -> int:
    return CatalogState.open(path, 2, 6).offset


def test_a_checkpoint_reaches_the_acknowledged_offset_of_the_last_fact(tmp_path):
    path, broker = tmp_path / "c.sqlite", Broker()
    partitions = partitions_at(path)

    async def run() -> None:
        await decide(partitions, broker, put("t1", label="run"))
        holding = partitions.deciders[2].state.labels[("alice", "run")]
        await decide(partitions, broker, indexed("t1", 0, [entry(b"/a")], True, holding))
        async with partitions.turn:
            await partitions.save(force=True)

    asyncio.run(run())
    assert broker.offsets["nearline.catalog"] > 2
    assert saved_offset(path) == broker.offsets["nearline.catalog"]


def test_a_decision_that_fails_is_never_saved(tmp_path):
    path, broker = tmp_path / "c.sqlite", Broker()
    partitions = partitions_at(path)

    async def run() -> None:
        await decide(partitions, broker, put("t1", label="run"))
        async with partitions.turn:
            await partitions.save(force=True)
        broker.fail = True
        with pytest.raises(ConnectionError):
            await decide(partitions, broker, put("t2", label="other"))
        async with partitions.turn:
            await partitions.save(force=True)  # what a timer would do next

    asyncio.run(run())
    assert 2 not in partitions.deciders
    again = CatalogState.open(path, 2, 6)
    assert ("alice", "run") in again.labels
    assert ("alice", "other") not in again.labels  # its facts never reached the log


def test_a_store_moved_on_by_another_process_is_read_again(tmp_path):
    path, broker = tmp_path / "c.sqlite", Broker()
    ours, theirs = partitions_at(path), partitions_at(path)

    async def run() -> None:
        await decide(ours, broker, put("t1", label="run"))
        await decide(theirs, broker, put("t2", label="other"))
        async with theirs.turn:
            await theirs.save(force=True)
        async with ours.turn:
            await ours.save(force=True)

    asyncio.run(run())
    assert 2 not in ours.deciders  # dropped: its next record reads the store again
    assert ("alice", "other") in CatalogState.open(path, 2, 6).labels


def test_a_revoked_partition_is_saved_and_let_go(tmp_path):
    path, broker = tmp_path / "c.sqlite", Broker()
    partitions = partitions_at(path)

    async def run() -> None:
        await decide(partitions, broker, put("t1", label="run"))
        await partitions.revoked({2})

    asyncio.run(run())
    assert not partitions.deciders
    assert saved_offset(path) == broker.offsets["nearline.catalog"]
