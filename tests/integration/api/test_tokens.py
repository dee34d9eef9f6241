"""Tokens through real API processes (D113, D114): a refresh token is used once, and a
reuse, even at another API process, revokes its whole family everywhere (the processes
share only ``nearline.tokens``); an OIDC token whose algorithm does not fit its key type
is a 401, never a 500."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from events.auth import TokenFamilyRevoked
from events.topics import TOKENS
from nearline.observe.tail import read
from tests.integration.api.client import password_grant
from tests.integration.api.conftest import running_api

pytestmark = pytest.mark.security


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def second_api(api_url, api_env, tmp_path_factory) -> Iterator[str]:
    """Another API process of the same installation (same users, secret and Kafka)."""
    log = tmp_path_factory.mktemp("api-2") / "api.log"
    with running_api(api_env, free_port(), log) as url:
        yield url


def refresh(url: str, tokens: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        timeout=30,
    )


def works(url: str, tokens: dict[str, Any]) -> bool:
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    return httpx.get(f"{url}/api/v1/whoami", headers=headers, timeout=30).status_code == 200


def test_a_reused_refresh_token_revokes_its_family_in_every_api_process(
    api_url, second_api, accounts, settings
):
    alice = accounts["alice"]
    first = password_grant(api_url, alice.user, alice.password)
    other = password_grant(api_url, alice.user, alice.password)
    family = jwt.decode(first["refresh_token"], options={"verify_signature": False})["fam"]

    rotated = refresh(api_url, first)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert works(second_api, second)

    # The first refresh token again, at the other process: refused, and the family ends.
    reused = refresh(second_api, first)
    assert reused.status_code == 400, reused.text
    assert "used before" in reused.json()["error_description"]
    assert refresh(api_url, second).status_code == 400
    deadline = time.monotonic() + 10
    while works(api_url, second) and time.monotonic() < deadline:
        time.sleep(0.2)  # the first process reads the revocation from the log
    assert not works(api_url, second) and not works(second_api, second)
    assert works(api_url, other) and works(second_api, other)

    # The log holds the revocation with the family's id, and no token.
    records = read(settings, TOKENS, count=200, timeout=10)
    revoked = [r for r in records if r.get("type") == TokenFamilyRevoked.schema_name]
    assert any(r["event"]["family"] == family for r in revoked)
    text = json.dumps(records)
    for token in (first, second):
        assert token["refresh_token"] not in text and token["access_token"] not in text


class Jwks(BaseHTTPRequestHandler):
    keys: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        body = json.dumps(self.keys).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def oidc_api(api_env, tmp_path_factory) -> Iterator[tuple[str, Any]]:
    """An API process that takes tokens of an OIDC issuer whose keys (one RSA key, kid
    ``rsa-1``) are served here; its URL and the issuer's private key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    Jwks.keys = {"keys": [jwk | {"kid": "rsa-1", "use": "sig"}]}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    issuer = f"http://127.0.0.1:{server.server_port}"
    env = api_env | {
        "NEARLINE_AUTH__PROVIDER": "oidc",
        "NEARLINE_AUTH__OIDC__ISSUER": issuer,
        "NEARLINE_AUTH__OIDC__AUDIENCE": "nearline",
        "NEARLINE_AUTH__OIDC__JWKS_URL": f"{issuer}/jwks",
    }
    log: Path = tmp_path_factory.mktemp("api-oidc") / "api.log"
    try:
        with running_api(env, free_port(), log) as url:
            yield url, (issuer, key)
    finally:
        server.shutdown()


def test_an_oidc_token_whose_algorithm_does_not_fit_its_key_is_a_401(oidc_api, accounts):
    url, (issuer, key) = oidc_api
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": "nearline",
        "sub": str(uuid.uuid4()),
        "preferred_username": accounts["alice"].user,
        "iat": now,
        "exp": now + 300,
    }
    good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "rsa-1"})
    assert (
        httpx.get(f"{url}/api/v1/whoami", headers={"Authorization": f"Bearer {good}"}).json()[
            "user"
        ]
        == accounts["alice"].user
    )
    # ES256 names the RSA key: the verifier must not hand an RSA key to the EC algorithm.
    forged = jwt.encode(
        claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": "rsa-1"}
    )
    response = httpx.get(f"{url}/api/v1/whoami", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401, response.text
    assert "does not fit" in response.text
