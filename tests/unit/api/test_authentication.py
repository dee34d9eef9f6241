"""Every route authenticates: no token is 403, an expired, forged or wrong-kind token is
401 (as NLDS answers), and only the token endpoint, init and health are open."""

from __future__ import annotations

import time
from typing import Any, cast

import jwt
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Mount

from api.auth.directory import Directory
from api.auth.families import MemoryFamilies
from api.auth.local import LocalTokens
from tests.unit.api.conftest import SECRET

NLDS = {"user": "alice", "group": "climate"}
TID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
BODY = {"filelist": ["/data/run/a.nc"]}

PROTECTED: list[tuple[str, str, dict[str, Any], Any]] = [
    ("PUT", "/api/1.0.0/files/", {**NLDS, "transaction_id": TID}, BODY),
    ("GET", "/api/1.0.0/files/", {**NLDS, "transaction_id": TID, "filepath": "/a"}, None),
    ("PUT", "/api/1.0.0/files/getlist/", {**NLDS, "transaction_id": TID}, BODY),
    ("GET", "/api/1.0.0/catalog/list/", NLDS, None),
    ("GET", "/api/1.0.0/catalog/find/", NLDS, None),
    ("POST", "/api/1.0.0/catalog/meta/", {**NLDS, "holding_id": 3}, {"new_label": "x"}),
    ("GET", "/api/1.0.0/status/", NLDS, None),
    ("GET", "/api/v1/whoami", {}, None),
    ("POST", "/api/v1/puts", {}, {"paths": ["/data/a"]}),
    ("POST", "/api/v1/gets", {}, {"paths": ["/data/a"]}),
    ("POST", "/api/v1/deletes", {}, {"paths": ["/data/a"]}),
    ("GET", "/api/v1/holdings", {}, None),
    ("GET", "/api/v1/holdings/3", {}, None),
    ("POST", "/api/v1/holdings/3/meta", {}, {"new_label": "x"}),
    ("GET", "/api/v1/files", {}, None),
    ("GET", "/api/v1/transactions", {}, None),
    ("GET", "/api/v1/transactions/t-alice-run", {}, None),
]

PUBLIC = {
    "/api/v1/token",
    "/api/1.0.0/init/",
    "/api/1.0.0/init/token",
    "/probe/healthz",
    "/system/status/",
}


def call(client, method: str, path: str, params: dict, body: Any, headers: dict | None = None):
    return client.request(method, path, params=params, json=body, headers=headers or {})


def signed(claims: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": "nearline",
        "sub": "alice",
        "groups": ["climate", "ocean"],
        "typ": "access",
        "iat": now,
        "exp": now + 600,
    }
    return base | changes


BAD_TOKENS = {
    "expired": signed(claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
    "forged with another secret": signed(claims(), secret="not-the-secret-" * 4),
    "unsigned (alg none)": jwt.encode(claims(), "", algorithm="none"),
    "a refresh token": signed(claims(typ="refresh")),
    "another issuer": signed(claims(iss="elsewhere")),
    "no expiry": signed({k: v for k, v in claims().items() if k != "exp"}),
    "not a JWT": "abc.def.ghi",
}


@pytest.mark.parametrize(("method", "path", "params", "body"), PROTECTED)
def test_a_request_without_a_token_is_forbidden(client, method, path, params, body):
    response = call(client, method, path, params, body)
    assert response.status_code == 403, response.text


@pytest.mark.parametrize(("method", "path", "params", "body"), PROTECTED)
@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_a_bad_token_is_unauthorized(client, method, path, params, body, kind):
    headers = {"Authorization": f"Bearer {BAD_TOKENS[kind]}"}
    response = call(client, method, path, params, body, headers)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "params", "body"), PROTECTED)
def test_a_valid_token_passes(client, alice, method, path, params, body):
    response = call(client, method, path, params, body, alice)
    assert response.status_code in {200, 202}, response.text


def test_a_token_tampered_with_after_signing_is_unauthorized(client, alice):
    header, payload, signature = alice["Authorization"].removeprefix("Bearer ").split(".")
    forged = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b'"alice"', b'"carol"')
    ).decode()
    response = client.get(
        "/api/v1/whoami", headers={"Authorization": f"Bearer {header}.{forged}.{signature}"}
    )
    assert response.status_code == 401


def test_a_token_that_expires_stops_working(settings, client):
    local = settings.auth.local
    issued_long_ago = LocalTokens(
        local,
        Directory(local.users_file),
        SECRET.encode(),
        MemoryFamilies(),
        clock=lambda: time.time() - 4000,
    ).issue("alice", ("climate",))
    headers = {"Authorization": f"Bearer {issued_long_ago['access_token']}"}
    assert client.get("/api/v1/whoami", headers=headers).status_code == 401


def test_every_route_but_the_public_ones_is_in_the_protected_list(client):
    protected = {path for _, path, _, _ in PROTECTED}
    templates = {"/api/v1/holdings/3": "/api/v1/holdings/{holding_id}"}
    protected |= {templates.get(p, p) for p in protected}
    protected |= {
        "/api/v1/holdings/{holding_id}/meta",
        "/api/v1/transactions/{transaction_id}",
    }
    root = cast(FastAPI, client.app.app)  # the access log wraps the application
    served = set()
    for route in root.routes:
        if isinstance(route, Mount):
            for inner in cast(FastAPI, route.app).routes:
                if isinstance(inner, APIRoute):
                    served.add(route.path + inner.path)
        elif isinstance(route, APIRoute):
            served.add(route.path)
    assert served - PUBLIC <= protected, served - PUBLIC - protected


def test_the_public_routes_need_no_token(client):
    for path in PUBLIC - {"/api/v1/token"}:
        assert client.get(path).status_code in {200, 202}, path
