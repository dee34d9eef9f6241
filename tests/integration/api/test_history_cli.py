"""``nearline history`` through the real command and API over the stack (D132): a user's
own events about a transaction, a holding or a path, none of another user's."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.integration.api.test_cli import Nearline, owned_tree


@pytest.fixture
def shell(api_url: str, accounts, tmp_path: Path) -> Nearline:
    """alice's shell, logged in."""
    user = Nearline(api_url, tmp_path / "alice-config")
    user.login(accounts["alice"])
    return user


def test_history_shows_a_user_their_own_events_only(shell, accounts, shared_dir, api_url, tmp_path):
    owned_tree(shared_dir / "hist", accounts["alice"], {b"a.nc": b"a" * 100})
    label = f"hist-{uuid.uuid4().hex[:6]}"
    tid = shell.json("put", str(shared_dir / "hist"), "--label", label)["transaction_id"]
    assert shell("watch", tid, "--interval", "0.2", "--timeout", "300").exit_code == 0
    [holding] = shell.json("list", "--label", label)

    by_transaction = shell.json("history", "--transaction", tid)
    kinds = [e["event_type"] for e in by_transaction]
    assert kinds[0] == "PutRequested" and "TransactionFinished" in kinds
    assert {e["transaction_id"] for e in by_transaction} == {tid}
    assert {e["actor"] for e in by_transaction} == {accounts["alice"].user}
    by_holding = shell.json("history", "--holding-id", str(holding["id"]))
    assert "HoldingCreated" in [e["event_type"] for e in by_holding]
    by_path = shell.json("history", "--path", str(shared_dir / "hist" / "a.nc"))
    assert tid in {e["transaction_id"] for e in by_path}
    table = shell("history", "--transaction", tid)
    assert table.exit_code == 0 and "PutRequested" in table.stdout and tid in table.stdout

    bob = Nearline(api_url, tmp_path / "bob-config")
    bob.login(accounts["bob"])
    assert bob.json("history", "--transaction", tid) == []
    assert bob.json("history", "--holding-id", str(holding["id"])) == []
