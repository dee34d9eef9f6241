"""``/carts``: files selected as FIND selects them, bundled into one tar that is streamed
from the S3 cache at download time (Pacifica's cart semantics). Owner only: another
user's cart is "not found", even in the same group."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import Connection

from api import commands
from api.auth import Identity
from api.deps import CurrentUser, RequestLogDep, ServicesDep, SessionDep
from api.errors import ApiError
from api.paths import path_text
from api.queries.carts import CartRow, cart_members, cart_owner, find_carts
from api.v1.models import CartDeleted, CartIn, CartList, CartOut, ErrorOut, given_path, when
from domain.access import Scope
from projections.queries.filters import HoldingSelector
from stores.s3.object_store import ObjectStore
from stores.tape.aggregate import stream_aggregate

router = APIRouter(prefix="/carts", tags=["carts"])

DOWNLOAD_URL = "/api/v1/carts/{}/download"
CHUNK = 1024 * 1024
SAFE_NAME = re.compile(r"[^A-Za-z0-9._+-]")
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}


@router.post("", status_code=202, responses={400: {"model": ErrorOut}, 409: {"model": ErrorOut}})
def create(
    body: CartIn, identity: CurrentUser, conn: SessionDep, log: RequestLogDep, services: ServicesDep
) -> CartOut:
    """Ask for a cart; follow its state at ``/carts/{cart_id}`` until it is ready."""
    scope = Scope.of(identity, body.group or identity.primary_group, body.groupall)
    cart_id = str(body.cart_id or uuid.uuid4())
    if cart_owner(conn, cart_id) is not None:
        existing = find_carts(conn, identity.user, cart_id)
        if existing:
            return _render(existing[0])  # asked again: the same cart
        raise ApiError(
            409,
            f"Cart id {cart_id} is taken (another user's, or a deleted or purged cart): "
            "leave it out to get a new one.",
        )
    selector = HoldingSelector(body.label, holding_id=body.holding_id, tags=body.tags)
    paths = [given_path(p) for p in body.paths]
    max_files = services.settings.carts.max_files
    event = commands.cart(log, scope, paths, selector, body.regex, cart_id, max_files)
    now = event.occurred_at
    row = CartRow(cart_id, event.user, event.group, "waiting", "", 0, 0, now, now, None)
    return _render(row)


@router.get("")
def list_(identity: CurrentUser, conn: SessionDep) -> CartList:
    """Your carts, newest first."""
    return CartList(carts=[_render(c) for c in find_carts(conn, identity.user)])


@router.get("/{cart_id}", responses=NOT_FOUND)
def show(cart_id: UUID, identity: CurrentUser, conn: SessionDep) -> CartOut:
    """One of your carts: its state, and why it failed if it did."""
    return _render(_yours(conn, identity, cart_id))


@router.head("/{cart_id}", status_code=204, responses=NOT_FOUND)
def head(cart_id: UUID, identity: CurrentUser, conn: SessionDep) -> Response:
    """The cart's state in headers (``X-Nearline-Cart-State``, ``X-Nearline-Cart-Message``;
    also as Pacifica's ``X-Pacifica-Status`` and ``X-Pacifica-Message``)."""
    cart = _yours(conn, identity, cart_id)
    message = cart.message.encode("ascii", "backslashreplace").decode()
    headers = {
        "X-Nearline-Cart-State": cart.state,
        "X-Nearline-Cart-Message": message,
        "X-Pacifica-Status": cart.state,
        "X-Pacifica-Message": message,
    }
    return Response(status_code=204, headers=headers)


@router.get(
    "/{cart_id}/download",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/x-tar": {}}, "description": "the cart as a tar"},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut},
    },
)
def download(
    cart_id: UUID,
    identity: CurrentUser,
    conn: SessionDep,
    log: RequestLogDep,
    services: ServicesDep,
    filename: Annotated[
        str | None, Query(description="the tar's name (default cart-<id>.tar)")
    ] = None,
) -> StreamingResponse:
    """The cart's files as one tar (pax for long or non-UTF-8 names), streamed from the
    S3 cache; 409 while the cart is not ready."""
    cart = _yours(conn, identity, cart_id)
    if cart.state != "ready":
        detail = f"The cart is not ready for download (it is {cart.state})"
        detail += f": {cart.message}" if cart.message else "; try again when it is ready."
        raise ApiError(409, detail, ["path", "cart_id"])
    found = cart_members(conn, cart.cart_id)
    if found.missing:
        raise ApiError(
            409,
            f"{len(found.missing)} file(s) of the cart left the cache or the catalog since it "
            f"was ready (first: {path_text(found.missing[0])}): delete it and ask again.",
            ["path", "cart_id"],
        )
    store = ObjectStore(services.settings, direct=False)
    try:
        stream = stream_aggregate(store, found.members, holding_id=0, write_size=CHUNK)
    except Exception:
        store.close()
        raise
    if stream.failed:
        store.close()
        raise ApiError(
            409,
            f"{len(stream.failed)} file(s) of the cart are not intact in the cache "
            f"({stream.failed[0].reason}): delete the cart and ask again later.",
            ["path", "cart_id"],
        )
    commands.cart_downloaded(log, identity.user, cart.group, cart.cart_id)
    name = SAFE_NAME.sub("_", filename or f"cart-{cart.cart_id}.tar")[:200] or "cart.tar"

    def body() -> Iterator[bytes]:
        try:
            yield from stream.chunks()
        finally:
            store.close()

    return StreamingResponse(
        body(),
        media_type="application/x-tar",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.delete("/{cart_id}", responses=NOT_FOUND)
def delete(
    cart_id: UUID, identity: CurrentUser, conn: SessionDep, log: RequestLogDep
) -> CartDeleted:
    """Delete one of your carts, whatever its state."""
    cart = _yours(conn, identity, cart_id)
    commands.delete_cart(log, identity.user, cart.group, cart.cart_id)
    return CartDeleted(message="Cart deleted.")


def _yours(conn: Connection, identity: Identity, cart_id: UUID) -> CartRow:
    found = find_carts(conn, identity.user, str(cart_id))
    if not found:
        raise ApiError(
            404,
            f"You have no cart {cart_id} (a new cart shows here a moment after it is "
            "accepted; deleted and purged carts are gone).",
            ["path", "cart_id"],
        )
    return found[0]


def _render(cart: CartRow) -> CartOut:
    return CartOut(
        cart_id=cart.cart_id,
        user=cart.user,
        group=cart.group,
        state=cart.state,
        message=cart.message,
        file_count=cart.file_count,
        total_size=cart.total_size,
        created_at=when(cart.created_at),
        updated_at=when(cart.updated_at),
        last_access=when(cart.last_access) if cart.last_access is not None else None,
        download_url=DOWNLOAD_URL.format(cart.cart_id),
    )
