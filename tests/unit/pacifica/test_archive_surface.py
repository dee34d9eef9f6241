"""The archive interface's protections that need no stack: the body limit spares only its
PUTs, the trusted-network mode answers only on its trusted address, and the status
headers and error body are the original's."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from api.app import create_app, make_services
from api.limits import BodyLimit
from api.pacifica.archive import archive_app, wire
from api.pacifica.caller import UntrustedBind, bind_host
from nearline.settings import Settings

LIMIT = 1000


def limited_app() -> TestClient:
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["PUT", "POST"])
    async def echo(request: Request) -> dict[str, int]:
        return {"read": len(await request.body())}

    return TestClient(BodyLimit(app, max_bytes=LIMIT, streamed_puts=("/pacifica/archive",)))


def test_only_puts_below_the_archive_prefix_pass_the_body_limit() -> None:
    client = limited_app()
    big = b"x" * (LIMIT * 5)
    assert client.put("/pacifica/archive/12", content=big).json() == {"read": len(big)}
    assert client.post("/pacifica/archive/12", content=big).status_code == 413
    assert client.put("/api/v1/puts", content=big).status_code == 413
    assert client.put("/pacifica/archivex/12", content=big).status_code == 413


def settings_with(**pacifica: object) -> Settings:
    settings = Settings()
    return settings.model_copy(
        update={"pacifica": settings.pacifica.model_copy(update={"enabled": True, **pacifica})}
    )


def archive_client(settings: Settings) -> TestClient:
    services = make_services(settings)
    services.engine = create_engine("sqlite://")
    app, _state = archive_app(services)
    return TestClient(app)


def test_the_trusted_network_mode_answers_only_on_its_trusted_address() -> None:
    client = archive_client(settings_with(trusted_network=True, trusted_host="127.0.0.1"))
    assert client.get("/").status_code == 200  # liveness is open
    refused = client.head("/12")  # the test client's server is "testserver"
    assert refused.status_code == 403


def test_without_the_trusted_mode_a_token_is_required() -> None:
    client = archive_client(settings_with())
    reply = client.put("/12", content=b"abc")
    assert reply.status_code == 403
    assert set(reply.json()) == {"status", "message", "traceback", "version"}


def test_the_api_refuses_to_mount_the_trusted_mode_on_another_address() -> None:
    settings = settings_with(trusted_network=True, trusted_host="127.0.0.1")
    settings = settings.model_copy(
        update={"api": settings.api.model_copy(update={"host": "0.0.0.0"})}
    )
    with pytest.raises(UntrustedBind):
        create_app(settings)
    assert bind_host(settings) == "127.0.0.1"  # served alone, it binds the trusted host


def test_status_headers_are_the_six_cartd_reads() -> None:
    on_disk = wire.Status("12", 30, 1473806059.29, 1473806000.5, True, True).headers()
    assert on_disk["X-Pacifica-Messsage"] == "File was found"
    assert on_disk["X-Pacifica-File-Storage-Media"] == "disk"
    assert on_disk["X-Pacifica-Bytes-Per-Level"] == "(30,)"
    assert float(on_disk["Last-Modified"]) == 1473806059.29
    assert float(on_disk["X-Pacifica-Ctime"]) == 1473806000.5
    assert on_disk["X-Content-Length"] == "30"
    on_tape = wire.Status("12", 30, 1.0, 1.0, False, True).headers()
    assert on_tape["X-Pacifica-File-Storage-Media"] == "tape"


def test_a_second_put_says_can_t_open_and_nothing_of_the_server() -> None:
    import json

    body = json.loads(wire.cannot_open("12").body)
    assert "Can't open" in body["traceback"]
    assert "/" not in body["traceback"].replace("pacifica.archiveinterface", "")
