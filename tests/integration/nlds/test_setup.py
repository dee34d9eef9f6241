"""Setting the client up: ``nlds init`` against nearline, ``nlds renew``, and the token
refreshed by the client itself. The user's password goes to the token URL only."""

from __future__ import annotations

import json
from pathlib import Path

from client.library.tokens import NO_TENANCY
from tests.integration.accounts import chown
from tests.integration.api.conftest import Account
from tests.integration.nlds.shell import Nlds


def test_login_writes_a_config_that_keeps_the_password_home(alice: Nlds):
    config = alice.config()
    assert config["server"] == {"url": alice.url, "api": "api/1.0.0"}
    assert config["user"] == {"default_user": "nl-alice", "default_group": "nl-climate"}
    assert config["object_storage"]["tenancy"] == NO_TENANCY
    before = alice.token()
    done = alice.run("renew", input=alice.account.password + "\n")
    # The token is renewed at the token URL; the object-store step stops at once.
    assert done.returncode != 0 and "needs no object-store keys" in done.stderr
    assert alice.token()["access_token"] != before["access_token"]
    assert_authenticated(alice)


def test_init_writes_the_config_from_the_server(
    nlds_api_url: str, accounts: dict[str, Account], user_dir: Path
):
    account = accounts["alice"]
    home = user_dir / "fresh-home"
    home.mkdir(mode=0o700)
    chown(str(home), account.user, account.group)
    shell = Nlds(nlds_api_url, account, home)
    done = shell.run("init", "-U", nlds_api_url, input=account.password + "\n")
    assert "needs no object-store keys" in done.stderr, done.stdout + done.stderr
    config = shell.config()
    assert config["authentication"]["oauth_token_url"] == f"{nlds_api_url}/api/v1/token"
    assert config["user"] == {"default_user": "nl-alice", "default_group": "nl-climate"}
    assert shell.token()["access_token"]
    assert_authenticated(shell)


def test_an_expired_access_token_is_refreshed_by_the_client(alice: Nlds):
    token = alice.token()
    token["access_token"] = "expired-or-revoked"
    path = alice.home / ".nlds-token"
    path.write_text(json.dumps(token))
    assert alice.json("stat", "-L", "1")["success"]
    assert alice.token()["access_token"] != "expired-or-revoked"


def assert_authenticated(shell: Nlds) -> None:
    """``nlds list`` gets through (it may find no holdings yet)."""
    done = shell.run("list")
    output = done.stdout + done.stderr
    assert "Listing holding" in output or "No holdings found" in output, output
