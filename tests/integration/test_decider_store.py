"""The decider's fold read back from its store and the real log (D190): only the facts
after the checkpoint are folded again, and a store that does not match the log (the
topic made again with another history) is thrown away, not trusted."""

from __future__ import annotations

import logging
import time

from confluent_kafka.admin import NewTopic

from events.base import Event
from events.codec import encode
from nearline import bus
from processors.catalog.decider import Decider
from processors.catalog.loading import load, store_path
from processors.catalog.state import CatalogState
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
