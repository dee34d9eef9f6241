"""What the nlds client does on the wire, written from the NLDS 1.0.0 reference with
plain httpx: the token endpoint's password and refresh grants, the 202 replies that are a
JSON string holding JSON, and the transaction state the client itself computes from
sub-records (its own function). ``tests/integration/nlds`` runs the real command."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
from nlds_client.clientlib.transactions import get_transaction_state

FINAL = {"COMPLETE", "FAILED", "COMPLETE_WITH_ERRORS", "COMPLETE_WITH_WARNINGS"}
# What the client sends with every request besides the token.
OBJECT_STORE = {"access_key": "AKIA-NEVER-STORED", "secret_key": "never-logged", "tenancy": "x"}


def password_grant(url: str, user: str, password: str) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/api/v1/token",
        data={
            "client_id": "nearline",
            "client_secret": "",
            "username": user,
            "password": password,
            "grant_type": "password",
            "scope": "nearline",
        },
        headers={"Content-Type": "application/x-www-form-urlencoded", "cache-control": "no-cache"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def refresh_grant(url: str, token: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/api/v1/token",
        data={
            "client_id": "nearline",
            "client_secret": "",
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "scope": "nearline",
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


class NldsClient:
    """One user's session with the NLDS routes."""

    def __init__(self, url: str, user: str, group: str, token: dict[str, Any]) -> None:
        self.base = f"{url}/api/1.0.0/"
        self.user, self.group = user, group
        self.headers = {
            "Content-Type": "application/json",
            "cache-control": "no-cache",
            "Authorization": f"Bearer {token['access_token']}",
        }

    def call(self, method: str, route: str, params: dict | None = None, body: Any = None) -> Any:
        query = {"user": self.user, "group": self.group} | (params or {})
        response = httpx.request(
            method,
            self.base + route,
            params={k: v for k, v in query.items() if v is not None},
            json=body if body is not None else {},
            headers=self.headers,
            timeout=60,
        )
        assert response.status_code == 202, f"{response.status_code}: {response.text}"
        return json.loads(response.json())

    def put(self, paths: list[str], label: str, tag: dict[str, str]) -> dict[str, Any]:
        transaction_id = str(uuid.uuid4())
        params = {"transaction_id": transaction_id, "job_label": transaction_id[:8]}
        body = {"filelist": paths, "label": label, "tag": tag}
        return self.call("PUT", "files/", params | OBJECT_STORE, body)

    def stat(self, transaction_id: str) -> dict[str, Any]:
        return self.call("GET", "status/", {"transaction_id": transaction_id})

    def wait(self, transaction_id: str, timeout: float = 300) -> str:
        """Follow a transaction as ``nlds stat`` shows it, until its state is final."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            records = self.stat(transaction_id)["data"]["records"]
            if records:
                state = client_state(records[0])
                if state in FINAL:
                    return state
            time.sleep(0.5)
        raise TimeoutError(f"{transaction_id} is still {state}")


def client_state(record: dict[str, Any]) -> str | None:
    """The state ``nlds stat`` shows, by the client's own rule (PyPI ``nlds-client``);
    None while it has nothing to go by (it would say QUEUED)."""
    state, _when, _done = get_transaction_state(record)
    return None if state == "QUEUED" else str(state)
