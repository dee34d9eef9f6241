"""SciCat's API as the adapter calls it: v4 or v3 job status, one new login when a token
expires, 4xx and 5xx told apart, and no password or token in any error."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr

from nearline.settings import ScicatSettings
from processors.scicat.client import Scicat, ScicatRefused, ScicatUnavailable

PASSWORD = "pw-never-shown"


def client(handler, job_api: str = "v4") -> Scicat:
    settings = ScicatSettings(
        url="http://scicat.test",
        username="archiveManager",
        password=SecretStr(PASSWORD),
        job_api=job_api,
    )
    return Scicat(settings, transport=httpx.MockTransport(handler))


def test_v4_and_v3_finish_a_job_on_their_own_routes():
    seen: list[tuple[str, str, dict]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v3/auth/login":
            return httpx.Response(201, json={"access_token": "tok"})
        seen.append((request.method, request.url.raw_path.decode(), json.loads(request.content)))
        return httpx.Response(200, json={})

    client(handler, "v4").job_status("j/1", "finishedSuccessful", "done", {"result": []})
    client(handler, "v3").job_status("j/1", "finishedSuccessful", "done")
    assert seen == [
        (
            "PATCH",
            "/api/v4/jobs/j%2F1",
            {
                "statusCode": "finishedSuccessful",
                "statusMessage": "done",
                "jobResultObject": {"result": []},
            },
        ),
        ("PATCH", "/api/v3/jobs/j%2F1", {"jobStatusMessage": "finishedSuccessful"}),
    ]


def test_an_expired_token_is_renewed_once():
    logins = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v3/auth/login":
            logins.append(1)
            return httpx.Response(201, json={"access_token": f"tok{len(logins)}"})
        if request.headers["Authorization"] == "Bearer tok1":
            return httpx.Response(401, json={"message": "expired"})
        return httpx.Response(200, json={"pid": "p"})

    assert client(handler).dataset("p") == {"pid": "p"}
    assert len(logins) == 2


@pytest.mark.parametrize(
    ("status", "error"), [(403, ScicatRefused), (404, ScicatRefused), (503, ScicatUnavailable)]
)
def test_refusals_and_failures_are_told_apart_without_secrets(status, error):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v3/auth/login":
            return httpx.Response(201, json={"access_token": "secret-token"})
        return httpx.Response(status, json={"message": "no"})

    with pytest.raises(error) as raised:
        client(handler).lifecycle("p", archiveStatusMessage="started")
    assert PASSWORD not in str(raised.value) and "secret-token" not in str(raised.value)


def test_a_refused_login_is_a_system_error_naming_the_settings():
    with pytest.raises(ScicatUnavailable, match=r"scicat\.password") as raised:
        client(lambda _r: httpx.Response(401, json={})).job("j")
    assert PASSWORD not in str(raised.value)
