"""History from the log: every event that touched a transaction, holding or path, in
order, with actor and cause; over the API, only the caller's own."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.directory import Directory
from api.auth.families import MemoryFamilies
from api.auth.local import LocalTokens
from api.auth.users import add_user
from events.topics import REQUESTS
from nearline.history import Query, history
from nearline.partitioning import partition_for
from nearline.requests import RequestLog
from nearline.settings import Settings
from projections.db import make_engine
from tests.integration.accounts import chown
from tests.integration.catalog_queries import wait_for_transaction

SECRET = "integration-test-secret-of-sufficient-length"


def test_history_of_a_put_from_the_log_and_over_the_api(
    settings, processors, users, catalog_url, tmp_path
):
    # A real PUT of one file.
    alice, climate = users["alice"]
    bob, ocean = users["bob"]
    folder = Path(tempfile.mkdtemp(prefix="nearline-history-", dir="/tmp"))
    folder.chmod(0o755)
    (folder / "f.txt").write_text("history\n")
    for path in (folder, folder / "f.txt"):
        chown(os.fsencode(path), alice, climate)
    requests = RequestLog(settings)
    put = requests.put(user=alice, group=climate, paths=[str(folder)])
    requests.close()
    engine = make_engine(catalog_url)
    try:
        outcome = wait_for_transaction(engine, put.transaction_id)
    finally:
        engine.dispose()
        shutil.rmtree(folder)
    assert outcome.state == "COMPLETE"

    # The transaction's history: the request, the decider's facts, the status changes.
    entries = history(settings, Query(transaction_id=put.transaction_id))
    types = [e.event_type for e in entries]
    assert types[0] == "PutRequested"
    for expected in ("TransactionAccepted", "FilesReserved", "FilesCataloged"):
        assert expected in types
    assert "TransactionFinished" in types and "TransactionStateChanged" in types
    assert [e.occurred_at for e in entries] == sorted(e.occurred_at for e in entries)
    assert {e.event.user for e in entries} == {alice}
    assert all(e.event.cause_id for e in entries[1:])
    request = entries[0]
    assert request.topic == REQUESTS
    assert request.partition == partition_for(alice.encode(), settings.kafka.partitions)

    # The holding's and the file's histories hold the same transaction.
    by_holding = history(settings, Query(holding_id=outcome.holding_id))
    assert put.transaction_id in {e.event.transaction_id for e in by_holding}
    assert "HoldingCreated" in {e.event_type for e in by_holding}
    by_path = history(settings, Query(path=os.fsencode(folder / "f.txt")))
    assert {e.event.transaction_id for e in by_path} == {put.transaction_id}

    # Over the API: the owner sees it, another user sees nothing, strangers get 403.
    users_file = tmp_path / "users.toml"
    add_user(users_file, alice, "pw-alice-123456", [climate])
    add_user(users_file, bob, "pw-bob-1234567", [ocean])
    api_settings = Settings(
        catalog={"url": catalog_url},
        auth={"local": {"users_file": users_file, "token_secret": SECRET}},
    )
    tokens = LocalTokens(
        api_settings.auth.local, Directory(users_file), SECRET.encode(), MemoryFamilies()
    )

    def bearer(user: str, group: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens.issue(user, [group])['access_token']}"}

    with TestClient(create_app(api_settings)) as client:
        url = f"/api/v1/history?transaction_id={put.transaction_id}"
        mine = client.get(url, headers=bearer(alice, climate))
        assert mine.status_code == 200, mine.text
        events = mine.json()["events"]
        assert [e["event_type"] for e in events] == types
        assert {e["actor"] for e in events} == {alice}
        theirs = client.get(url, headers=bearer(bob, ocean))
        assert theirs.status_code == 200 and theirs.json()["events"] == []
        holding = client.get(
            f"/api/v1/history?holding_id={outcome.holding_id}", headers=bearer(bob, ocean)
        )
        assert holding.json()["events"] == []
        assert client.get(url).status_code == 403
        assert client.get("/api/v1/history", headers=bearer(alice, climate)).status_code == 400
