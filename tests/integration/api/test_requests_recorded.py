"""GET, DELETE and META through both surfaces land on ``nearline.requests`` as the
events the processors will act on (their processing is another component's: these
tests read the topic itself)."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from confluent_kafka import TopicPartition

from events.base import Event
from events.codec import decode
from events.requests import DeleteRequested, GetRequested, MetaRequested
from events.topics import REQUESTS
from nearline import bus
from nearline.settings import Settings
from tests.integration.accounts import chown
from tests.integration.api.client import OBJECT_STORE, NldsClient, password_grant


class RequestsTopic:
    """Reads what was appended to the requests topic since it was opened."""

    def __init__(self, settings: Settings) -> None:
        self.consumer = bus.consumer(settings, f"test-api-{uuid.uuid4().hex[:8]}")
        metadata = self.consumer.list_topics(REQUESTS, timeout=10)
        partitions = sorted(metadata.topics[REQUESTS].partitions)
        self.start = [
            TopicPartition(
                REQUESTS,
                p,
                self.consumer.get_watermark_offsets(TopicPartition(REQUESTS, p), timeout=10)[1],
            )
            for p in partitions
        ]

    def events(self, transaction_ids: set[str], timeout: float = 30) -> dict[str, Event]:
        self.consumer.assign(self.start)
        found: dict[str, Event] = {}
        deadline = time.monotonic() + timeout
        while set(found) != transaction_ids and time.monotonic() < deadline:
            message = self.consumer.poll(0.5)
            if message is None or message.error():
                continue
            event = decode(message.value() or b"")
            if event.transaction_id in transaction_ids:
                found[event.transaction_id] = event
        return found

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture
def requests_topic(settings) -> Iterator[RequestsTopic]:
    topic = RequestsTopic(settings)
    yield topic
    topic.close()


@pytest.fixture(scope="module")
def holding(api_url, accounts) -> Iterator[dict]:
    """A holding of alice's with one file, through nearline's API."""
    alice = accounts["alice"]
    folder = Path("/tmp") / f"nearline-api-meta-{uuid.uuid4().hex[:6]}"
    folder.mkdir(mode=0o755)
    (folder / "f.nc").write_bytes(b"data")
    chown(str(folder), alice.user, alice.group)
    chown(str(folder / "f.nc"), alice.user, alice.group)
    token = password_grant(api_url, alice.user, alice.password)["access_token"]
    api = httpx.Client(base_url=f"{api_url}/api/v1", headers={"Authorization": f"Bearer {token}"})
    label = f"api-meta-{uuid.uuid4().hex[:6]}"
    accepted = api.post("/puts", json={"paths": [str(folder)], "label": label, "tags": {"a": "1"}})
    tid = accepted.json()["transaction_id"]
    for _ in range(300):
        response = api.get(f"/transactions/{tid}")
        if response.status_code == 200 and response.json()["state"] == "COMPLETE":
            break
        time.sleep(0.5)
    [found] = api.get("/holdings", params={"label": label}).json()["holdings"]
    yield found
    shutil.rmtree(folder, ignore_errors=True)


def test_nlds_get_getlist_and_meta_are_recorded(api_url, accounts, holding, requests_topic):
    alice = accounts["alice"]
    nlds = NldsClient(
        api_url, alice.user, alice.group, password_grant(api_url, alice.user, alice.password)
    )
    get = nlds.call(
        "GET",
        "files/",
        {
            "transaction_id": str(uuid.uuid4()),
            "filepath": "/tmp/x/f.nc",
            "holding_id": holding["id"],
        }
        | OBJECT_STORE,
    )
    getlist = nlds.call(
        "PUT",
        "files/getlist/",
        {"transaction_id": str(uuid.uuid4()), "target": "/tmp/restore", "groupall": True},
        {"filelist": ["/tmp/x/f.nc", "/tmp/x/g.nc"], "label": holding["label"]},
    )
    meta = nlds.call(
        "POST",
        "catalog/meta/",
        {"holding_id": holding["id"]},
        {"new_label": holding["label"] + "-renamed", "new_tag": {"b": "2"}, "del_tag": {"a": ""}},
    )
    assert meta["data"]["holdings"][0]["new_meta"] == {
        "label": holding["label"] + "-renamed",
        "tags": {"b": "2"},
    }
    ids = {get["transaction_id"], getlist["transaction_id"], meta["transaction_id"]}
    events = requests_topic.events(ids)
    assert set(events) == ids
    one, many, change = (events[r["transaction_id"]] for r in (get, getlist, meta))
    assert isinstance(one, GetRequested) and one.paths == [b"/tmp/x/f.nc"]
    assert one.holding_id == holding["id"] and (one.user, one.group) == (alice.user, alice.group)
    assert isinstance(many, GetRequested) and many.api_action == "getlist" and many.groupall
    assert many.target == b"/tmp/restore" and many.label == holding["label"]
    assert isinstance(change, MetaRequested) and change.holding_id == holding["id"]
    assert change.add_tags == {"b": "2"} and change.remove_tags == ["a"]


def test_v1_gets_deletes_and_meta_are_recorded(api_url, accounts, holding, requests_topic):
    alice = accounts["alice"]
    token = password_grant(api_url, alice.user, alice.password)["access_token"]
    api = httpx.Client(base_url=f"{api_url}/api/v1", headers={"Authorization": f"Bearer {token}"})
    get = api.post("/gets", json={"regex": r"f\.nc$", "holding_id": holding["id"]}).json()
    delete = api.post("/deletes", json={"paths": [{"path_b64": "L3RtcC//Lm5j"}]}).json()
    meta = api.post(f"/holdings/{holding['id']}/meta", json={"add_tags": {"c": "3"}}).json()
    ids = {get["transaction_id"], delete["transaction_id"], meta["transaction_id"]}
    events = requests_topic.events(ids)
    assert isinstance(events[get["transaction_id"]], GetRequested)
    assert events[get["transaction_id"]].regex == r"f\.nc$"
    deleted = events[delete["transaction_id"]]
    assert isinstance(deleted, DeleteRequested) and deleted.paths == [b"/tmp/\xff.nc"]
    assert isinstance(events[meta["transaction_id"]], MetaRequested)
