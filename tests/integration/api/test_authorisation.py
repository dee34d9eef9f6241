"""Who may write where, driven through the real API, decider and projections (D110, D111,
D114): a member of the owner's group cannot PUT into the owner's holding, a transaction id
belongs to the user who first used it, and an anonymous caller of the status page or of
``/metrics`` learns no user name and no transaction id.

The attacker of the first two is ``eve``: a real account in alice's group whose requests
land in alice's partition, so that the decider judges her with alice's own state (a user
of another partition could not even see alice's holding)."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.auth.users import add_user
from nearline.partitioning import partition_for
from nearline.requests import RequestLog
from nearline.settings import Settings
from processors.catalog.decider import ID_TAKEN
from tests.integration.accounts import chown, ensure_account
from tests.integration.api.client import OBJECT_STORE, password_grant
from tests.integration.api.conftest import Account

pytestmark = pytest.mark.security

FINAL = {"COMPLETE", "FAILED", "COMPLETE_WITH_ERRORS"}


@pytest.fixture(scope="module")
def eve(settings: Settings, accounts: dict[str, Account], api_users_file: Path) -> Account:
    """A member of alice's group whose requests the decider of alice's partition takes."""
    alice = accounts["alice"]
    partitions = settings.kafka.partitions
    home = partition_for(alice.user.encode(), partitions)
    names = (f"nl-eve{i}" for i in range(1000))
    name = next(n for n in names if partition_for(n.encode(), partitions) == home)
    ensure_account(name, alice.group)
    account = Account(name, alice.group, secrets.token_urlsafe(12))
    add_user(api_users_file, account.user, account.password, [])
    return account


def session(api_url: str, account: Account) -> httpx.Client:
    token = password_grant(api_url, account.user, account.password)["access_token"]
    return httpx.Client(
        base_url=f"{api_url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def owned_file(folder: Path, account: Account, data: bytes) -> str:
    path = folder / f"{account.user}-{uuid.uuid4().hex[:6]}.dat"
    path.write_bytes(data)
    chown(str(path), account.user, account.group)
    return str(path)


def final(api: httpx.Client, transaction_id: str, timeout: float = 120) -> dict[str, Any]:
    """The transaction as its user sees it, once it is final."""
    deadline = time.monotonic() + timeout
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = api.get(f"/transactions/{transaction_id}")
        if response.status_code == 200:
            shown = response.json()
            if shown["state"] in FINAL:
                return shown
        time.sleep(0.5)
    raise TimeoutError(f"{transaction_id} is not final: {shown}")


def holding_paths(api: httpx.Client, holding_id: int) -> set[str]:
    files = api.get("/files", params={"holding_id": holding_id, "limit": 1000}).json()["files"]
    return {f["path"] for f in files}


@pytest.fixture
def alices_holding(api_url, accounts, shared_dir) -> Iterator[tuple[httpx.Client, int, str]]:
    """A holding of alice's with one file: her session, its id and the PUT's transaction."""
    alice = accounts["alice"]
    api = session(api_url, alice)
    tid = str(uuid.uuid4())
    label = f"authz-{uuid.uuid4().hex[:6]}"
    path = owned_file(shared_dir, alice, b"alice's data")
    body = {"paths": [path], "label": label, "transaction_id": tid}
    assert api.post("/puts", json=body).status_code == 202
    assert final(api, tid)["state"] == "COMPLETE"
    [holding] = api.get("/holdings", params={"label": label}).json()["holdings"]
    yield api, holding["id"], tid
    api.close()


def test_a_group_member_cannot_put_into_the_owners_holding(
    api_url, alices_holding, eve, shared_dir
):
    alice_api, holding_id, _ = alices_holding
    before = holding_paths(alice_api, holding_id)
    eves_file = owned_file(shared_dir, eve, b"eve's data")
    with session(api_url, eve) as api:
        tid = str(uuid.uuid4())
        body = {"paths": [eves_file], "holding_id": holding_id, "transaction_id": tid}
        assert api.post("/puts", json=body).status_code == 202  # recorded; the decider judges
        shown = final(api, tid)
    assert shown["state"] == "FAILED"
    assert any("is not yours" in w for w in shown["warnings"]), shown
    assert holding_paths(alice_api, holding_id) == before
    assert eves_file not in before


def test_a_transaction_id_belongs_to_the_user_who_first_used_it(
    api_url, settings, accounts, alices_holding, eve, shared_dir
):
    alice_api, holding_id, tid = alices_holding
    before, paths = final(alice_api, tid), holding_paths(alice_api, holding_id)
    bob = accounts["bob"]

    # Through the API: another user's reuse is a conflict, on both surfaces, and nothing
    # is recorded.
    with session(api_url, bob) as api:
        reused = api.post("/puts", json={"paths": ["/tmp"], "transaction_id": tid})
        assert reused.status_code == 409, reused.text
        assert "belongs to another user's request" in reused.json()["detail"]
        token = api.headers["Authorization"]
    nlds = httpx.put(
        f"{api_url}/api/1.0.0/files/",
        params={"transaction_id": tid, "user": bob.user, "group": bob.group} | OBJECT_STORE,
        json={"filelist": ["/tmp"]},
        headers={"Authorization": token},
    )
    assert nlds.status_code == 409, nlds.text

    # Past the API (a request recorded before the status projection showed alice's): the
    # decider of alice's partition refuses eve's, and bob's (another partition) runs as
    # his own transaction without touching alice's rows.
    requests = RequestLog(settings)
    try:
        eves_file = owned_file(shared_dir, eve, b"eve's data")
        requests.put(
            user=eve.user,
            group=eve.group,
            paths=[eves_file],
            holding_id=holding_id,
            transaction_id=tid,
        )
        bobs_file = owned_file(shared_dir, bob, b"bob's data")
        requests.put(user=bob.user, group=bob.group, paths=[bobs_file], transaction_id=tid)
    finally:
        requests.close()
    with session(api_url, eve) as api:
        eves = final(api, tid, timeout=60)
    assert (eves["user"], eves["state"], eves["warnings"]) == (eve.user, "FAILED", [ID_TAKEN])
    with session(api_url, bob) as api:
        assert final(api, tid)["user"] == bob.user
    assert final(alice_api, tid) == before
    assert holding_paths(alice_api, holding_id) == paths


def test_an_anonymous_caller_sees_counts_but_no_user_or_transaction(api_url, accounts):
    alice = accounts["alice"]
    with session(api_url, alice) as api:
        tid = str(uuid.uuid4())
        missing = f"/tmp/nearline-missing-{uuid.uuid4().hex}"
        body = {"paths": [missing], "transaction_id": tid}
        assert api.post("/puts", json=body).status_code == 202
        assert final(api, tid)["state"] == "FAILED"
        token = api.headers["Authorization"]
    users = [a.user for a in accounts.values()]

    page = httpx.get(f"{api_url}/system/status/", timeout=30).text
    assert 'id="failed-transactions"' in page and " in the last 24 hours" in page
    assert tid not in page and not any(user in page for user in users)
    metrics = httpx.get(f"{api_url}/metrics", timeout=30).text
    assert "nearline_" in metrics
    assert tid not in metrics and not any(user in metrics for user in users)

    # After login (the token sent), the page lists the caller's own failures.
    mine = httpx.get(f"{api_url}/system/status/", headers={"Authorization": token}, timeout=30)
    assert tid in mine.text and alice.user in mine.text
    assert accounts["bob"].user not in mine.text
