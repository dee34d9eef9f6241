"""Whole-holding delete through the real command and API over the stack (D132): only
``nearline del --label L --whole-holding`` deletes a holding whole, and frees its label."""

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


def test_a_whole_holding_is_deleted_from_the_command_line_when_asked_in_words(
    shell, accounts, shared_dir
):
    owned_tree(shared_dir / "whole", accounts["alice"], {b"a.nc": b"a" * 10, b"s/b.nc": b"b"})
    label = f"whole-{uuid.uuid4().hex[:6]}"
    tid = shell.json("put", str(shared_dir / "whole"), "--label", label)["transaction_id"]
    assert shell("watch", tid, "--interval", "0.2", "--timeout", "300").exit_code == 0
    [holding] = shell.json("list", "--label", label)

    refused = shell("del", "--label", label)  # no paths, no --regex, not asked in words
    assert refused.exit_code == 2 and "--whole-holding" in refused.output
    assert len(shell.json("find", "--label", label)) == 4  # 2 files, 2 folders

    deleted = shell.json("del", "--label", label, "--whole-holding")
    assert deleted["api_action"] == "del"
    assert shell("watch", deleted["transaction_id"], "--interval", "0.2").exit_code == 0
    assert shell.json("list", "--label", label) == []
    assert shell.json("find", "--holding-id", str(holding["id"])) == []
    # the label is free again: a new PUT makes a new holding under it
    again = shell.json("put", str(shared_dir / "whole" / "a.nc"), "--label", label)
    assert shell("watch", again["transaction_id"], "--interval", "0.2").exit_code == 0
    [new] = shell.json("list", "--label", label)
    assert new["id"] != holding["id"]
