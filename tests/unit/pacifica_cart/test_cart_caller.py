"""Who the cart wire serves: a token's user, or in the trusted-network mode the
namespace's account, and then only on the trusted address."""

from __future__ import annotations

from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from api.auth import Identity, InvalidToken
from api.errors import ApiError, install_error_handlers
from api.pacifica.cart_caller import CartCaller
from nearline.settings import Settings


class Tokens:
    def identify(self, token: str) -> Identity:
        if token != "good":
            raise InvalidToken("forged")
        return Identity("nl-alice", ("nl-climate",))


def client(**pacifica: object) -> TestClient:
    settings = Settings()
    settings.pacifica = settings.pacifica.model_copy(update={"account": "nl-pacifica", **pacifica})
    app = FastAPI()
    app.state.services = SimpleNamespace(settings=settings, authenticator=Tokens())

    @app.get("/who")
    def who(caller: CartCaller) -> dict[str, object]:
        return {"user": caller.user, "groups": list(caller.groups)}

    install_error_handlers(app, _detail)
    return TestClient(app)  # requests arrive on the server address "testserver"


def _detail(error: ApiError) -> JSONResponse:
    return JSONResponse(status_code=error.status, content={"detail": error.message})


def test_without_the_trusted_mode_every_call_needs_a_token():
    plain = client()
    assert plain.get("/who").status_code == 403
    assert plain.get("/who", headers={"Authorization": "Bearer forged"}).status_code == 401
    assert plain.get("/who", headers={"Authorization": "Bearer good"}).json()["user"] == "nl-alice"


def test_the_trusted_mode_serves_the_account_only_on_the_trusted_address():
    trusted = client(trusted_network=True, trusted_host="testserver")
    assert trusted.get("/who").json()["user"] == "nl-pacifica"
    elsewhere = client(trusted_network=True, trusted_host="10.0.0.5")
    refused = elsewhere.get("/who")
    assert refused.status_code == 403 and "10.0.0.5" in refused.json()["detail"]
    # a token does not open it either: the address is the guard
    assert elsewhere.get("/who", headers={"Authorization": "Bearer good"}).status_code == 403
