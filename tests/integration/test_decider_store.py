"""The decider's fold read back from its store and the real log (D190): only the facts
after the checkpoint are folded again, and a store that does not match the log (the
topic made again with another history) is thrown away, not trusted."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import tempfile
import time
import uuid
from contextlib import closing
from pathlib import Path

from confluent_kafka import TopicPartition
from confluent_kafka.admin import NewTopic

from events.base import Event
from events.codec import decode_message, encode
from events.topics import CATALOG
from nearline import bus
from nearline.partitioning import partition_for
from processors.catalog.decider import Decider
from processors.catalog.loading import CHECKPOINT_SECONDS, load, store_path
from processors.catalog.state import CatalogState
from tests.integration.accounts import chown
from tests.integration.catalog_queries import wait_for_transaction
from tests.unit.catalog.stories import delete, objects_deleted, stored
from tests.unit.catalog.test_decider import catalog_facts, entry


class Publishing:
    """A decider whose catalog facts are written to partition 0 of a real topic."""

    def __init__(self, settings, topic: str) -> None:
        self.decider = Decider(CatalogState(0, 1), clock=lambda: 7)
        self.producer = bus.producer(settings)
        self.topic = topic
        self.sent = 0

    @property
    def state(self) -> CatalogState:
        return self.decider.state

    def handle(self, event: Event) -> list:
        out = self.decider.handle(event)
        for fact in catalog_facts(out):
            self.producer.produce(
                self.topic, key=fact.user.encode(), value=encode(fact), partition=0
            )
            self.sent += 1
        self.producer.flush(30)
        return out


def files_of(state: CatalogState) -> dict:
    return {key: state.files[key] for key in sorted(state.files.keys())}


def test_a_restart_folds_only_the_facts_after_its_checkpoint(
    settings, topic_name, tmp_path, caplog
):
    local = settings.model_copy(update={"home": tmp_path})
    live = Publishing(settings, topic_name)
    holding = stored(live, "t1", "run", [entry(b"/d"), entry(b"/d/a"), entry(b"/d/b")])
    live.handle(delete("x1", [b"/d/a"]))
    live.handle(objects_deleted("x1", 0, holding, ["k"]))

    first = load(local, 0, topic_name)
    assert files_of(first) == files_of(live.state)
    assert first.offset == live.sent
    saved = first.offset
    first.store.close()
    assert store_path(local, 0, topic_name).exists()

    stored(live, "t2", "other", [entry(b"/e")])
    with caplog.at_level(logging.INFO, logger="nearline.catalog"):
        second = load(local, 0, topic_name)
    assert files_of(second) == files_of(live.state)
    assert second.labels == live.state.labels
    assert second.transactions["x1"].finished
    folded_again = second.offset - saved
    assert second.offset == live.sent
    assert f"{folded_again} facts after the checkpoint at {saved}" in caplog.text
    assert 0 < folded_again < second.offset
    second.store.close()


def test_a_store_from_another_history_is_thrown_away(settings, topic_name, tmp_path):
    local = settings.model_copy(update={"home": tmp_path})
    old = Publishing(settings, topic_name)
    stored(old, "t1", "run", [entry(b"/old")])
    stored(old, "t2", "run", [entry(b"/older")])
    load(local, 0, topic_name).store.close()

    admin = bus.admin(settings)
    admin.delete_topics([topic_name])[topic_name].result()
    for _ in range(50):  # deleting a topic finishes in the background
        try:
            admin.create_topics([NewTopic(topic_name, num_partitions=1)])[topic_name].result()
            break
        except Exception:  # still being deleted
            time.sleep(0.2)
    new = Publishing(settings, topic_name)
    stored(new, "n1", "run", [entry(b"/new")])
    stored(new, "n2", "run", [entry(b"/newer")])
    stored(new, "n3", "run", [entry(b"/newest")])  # a longer log than the old one

    state = load(local, 0, topic_name)
    assert files_of(state) == files_of(new.state)
    assert state.transactions.get("t1") is None
    state.store.close()


def test_the_running_decider_saves_exactly_what_the_log_holds(
    settings, processors, users, requests, engine, tmp_path_factory
):
    """The checkpoint's offset comes from the broker's acknowledgements of the decider's
    own facts: after a PUT and a checkpoint, the store of the user's partition reaches
    the partition's end, and its last fact is the log's last fact."""
    alice, climate = users["alice"]
    folder = Path(tempfile.mkdtemp(prefix="nearline-store-", dir="/tmp"))
    try:
        folder.chmod(0o755)
        (folder / "one.txt").write_text("one\n")
        chown(folder, alice, climate)
        chown(folder / "one.txt", alice, climate)
        request = requests.put(
            user=alice, group=climate, paths=[str(folder)], label=f"store-{uuid.uuid4().hex[:6]}"
        )
        assert wait_for_transaction(engine, request.transaction_id).state == "COMPLETE"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    partition = partition_for(alice.encode(), settings.kafka.partitions)
    consumer = bus.consumer(settings, group="nearline-catalog-rebuild")
    try:
        _low, high = consumer.get_watermark_offsets(TopicPartition(CATALOG, partition), timeout=30)
        consumer.assign([TopicPartition(CATALOG, partition, high - 1)])
        last = consumer.poll(10)
        assert last is not None and last.offset() == high - 1
        last_id = decode_message(last.value(), topic=CATALOG, partition=partition, offset=high - 1)
    finally:
        consumer.close()
    path = store_path(settings, partition)
    deadline = time.monotonic() + 3 * CHECKPOINT_SECONDS
    while True:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            saved = dict(db.execute("SELECT key, value FROM meta WHERE key LIKE '%t%'"))
        if int(saved.get("offset") or 0) >= high or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert int(saved["offset"]) == high
    assert saved["last_event_id"] == last_id.event_id
