"""Pacifica cartd's wire, beside nearline's own cart API (``/api/v1/carts``, D43): carts
named by their client's uid, of files named by archive-interface id (D145), answered with
cartd's status codes, headers and messages (docs/pacifica.md). A uid reaches only the
caller's own carts; asking again under a uid replaces the cart that had it, as in cartd.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from sqlalchemy import Connection

from api import commands
from api.deps import ServicesDep, SessionDep
from api.errors import ApiError, install_error_handlers
from api.pacifica.cart_caller import CartCaller
from api.pacifica.cart_download import cart_tar
from api.pacifica.cart_request import CartBody, cart_entries, checked_uid
from api.queries.carts import CartRow, client_carts
from api.services import Services
from domain.pacifica import holding_label

# nearline's states as cartd shows them: its own code only ever shows staging until a
# cart is ready or failed, and Pacifica's downloader stops waiting at any other (D161).
PACIFICA_STATUS = {
    "waiting": "staging",
    "staging": "staging",
    "bundling": "staging",
    "ready": "ready",
    "error": "error",
}
NOT_READY = "The cart is not ready for download."
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
PAUSE_S = 0.05

router = APIRouter()


def cart_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="nearline: Pacifica cart service",
        description="Pacifica cartd's routes and wire format, on nearline's carts.",
        version="1",
    )
    app.state.services = services
    app.include_router(router)
    install_error_handlers(app, _render)
    app.add_exception_handler(RequestValidationError, _invalid)
    return app


@router.get("/")
def alive(_caller: CartCaller) -> dict[str, str]:
    return {"message": "Pacifica Cartd Interface Up and Running"}


@router.post("/{uid}", status_code=201)
def create(
    uid: str, body: CartBody, caller: CartCaller, conn: SessionDep, services: ServicesDep
) -> dict[str, str]:
    """Ask for a cart of these files; a cart the caller had under ``uid`` is replaced."""
    settings = services.settings
    checked_uid(uid)
    max_files = min(settings.carts.max_files, settings.limits.max_paths)
    entries = cart_entries(body, max_files)
    group = caller.primary_group
    if group is None:
        raise ApiError(400, "Your account belongs to no group: ask your administrator.")
    log = services.request_log()
    for old in client_carts(conn, caller.user, uid):
        commands.delete_cart(log, caller.user, old.group, old.cart_id)
    cart = commands.NamedCart(
        client_uid=uid,
        owner=settings.pacifica.account,
        label=holding_label(settings.pacifica.namespace),
        bundle=bool(body.bundle),
    )
    event = commands.cart_of_files(log, caller.user, group, cart, entries, max_files)
    bound_s = settings.api.read_your_writes_s
    _wait_until(
        conn, bound_s, caller.user, uid, lambda c: c is not None and c.cart_id == event.cart_id
    )
    return {"message": "Cart Processing has begun"}


@router.head("/{uid}", status_code=204)
def status(uid: str, caller: CartCaller, conn: SessionDep) -> Response:
    """The cart's state in ``X-Pacifica-Status`` and ``X-Pacifica-Message`` (nearline's own
    in ``X-Nearline-Cart-State``, its id in ``X-Nearline-Cart-Id``); 404 for no such
    cart, 500 for one in error."""
    cart = _latest(conn, caller.user, uid)
    if cart is None:
        headers = {"X-Pacifica-Status": "error", "X-Pacifica-Message": f"No cart with uid {uid}"}
        return Response(status_code=404, headers=headers)
    headers = {
        "X-Pacifica-Status": PACIFICA_STATUS.get(cart.state, "error"),
        "X-Pacifica-Message": _header_text(cart.message),
        "X-Nearline-Cart-State": cart.state,
        "X-Nearline-Cart-Id": cart.cart_id,  # the same cart on /api/v1/carts
    }
    return Response(status_code=500 if cart.state == "error" else 204, headers=headers)


@router.get("/{uid}", response_model=None)
def download(
    uid: str,
    caller: CartCaller,
    conn: SessionDep,
    services: ServicesDep,
    filename: Annotated[str | None, Query(description="the tar's name")] = None,
) -> StreamingResponse | PlainTextResponse:
    """The cart as one tar; 202 while it is not ready (as cartd answers)."""
    cart = _latest(conn, caller.user, uid)
    if cart is None:
        raise ApiError(404, "The cart does not exist or has already been deleted", ["path"])
    if cart.state != "ready":
        return PlainTextResponse(NOT_READY, status_code=202)
    return cart_tar(conn, services, cart, uid, filename)


@router.delete("/{uid}")
def delete(uid: str, caller: CartCaller, conn: SessionDep, services: ServicesDep) -> dict[str, str]:
    """Delete the caller's carts under ``uid``."""
    carts = client_carts(conn, caller.user, uid)
    if not carts:
        raise ApiError(404, "Not Found", ["path"])
    log = services.request_log()
    for cart in carts:
        commands.delete_cart(log, caller.user, cart.group, cart.cart_id)
    _wait_until(
        conn, services.settings.api.read_your_writes_s, caller.user, uid, lambda c: c is None
    )
    return {"message": "Cart Deleted Successfully"}


def _header_text(message: str) -> str:
    """A message as a header value: ASCII on one line (a reason may quote anything)."""
    return CONTROL.sub(" ", message.encode("ascii", "backslashreplace").decode())


def _latest(conn: Connection, user: str, uid: str) -> CartRow | None:
    carts = client_carts(conn, user, checked_uid(uid))
    return carts[0] if carts else None


def _wait_until(
    conn: Connection,
    bound_s: float,
    user: str,
    uid: str,
    shown: Callable[[CartRow | None], bool],
) -> None:
    """Read-your-writes: answer once the read model shows the change, so the client's
    next HEAD sees it (bounded by ``api.read_your_writes_s``, as for every command)."""
    deadline = time.monotonic() + bound_s
    while True:
        conn.rollback()  # each look a transaction of its own
        if shown(_latest(conn, user, uid)) or time.monotonic() > deadline:
            return
        time.sleep(PAUSE_S)


def _render(error: ApiError) -> JSONResponse:
    """cartd's error page: JSON with status, message, traceback (never a real one) and
    version."""
    phrase = HTTPStatus(error.status).phrase
    content = {
        "status": f"{error.status} {phrase}",
        "message": error.message,
        "traceback": "",
        "version": "nearline",
    }
    return JSONResponse(status_code=error.status, content=content)


async def _invalid(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0] if error.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = f"Invalid request: {where}: {first.get('msg', 'not valid')}"
    return _render(ApiError(400, message))
