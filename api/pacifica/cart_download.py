"""A ready cart as cartd serves it: one tar, streamed from the S3 cache, whose members sit
in one folder named after the download (``filename`` without ``.tar``; the cart uid for a
bundled cart), each under the path its client gave (decision D160)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

from fastapi.responses import StreamingResponse
from sqlalchemy import Connection

from api import commands
from api.errors import ApiError
from api.paths import path_text
from api.queries.carts import CartRow, cart_bundled, cart_members
from api.services import Services
from stores.s3.object_store import ObjectStore
from stores.tape.aggregate import Member, stream_aggregate

CHUNK = 1024 * 1024
SAFE_NAME = re.compile(r"[^A-Za-z0-9._+-]")
FALLBACK_FOLDER = "data"


def download_name(filename: str | None) -> str:
    """The tar's name: the client's, made safe for a header, or cartd's default."""
    if filename is None:
        return "data_" + datetime.now().strftime("%Y_%m_%d_%H_%M_%S") + ".tar"
    return SAFE_NAME.sub("_", filename)[:200] or "data.tar"


def member_folder(name: str, uid: str, bundled: bool) -> str:
    """The folder the members sit in, as cartd names it; never one that climbs out."""
    folder = uid if bundled else name.replace(".tar", "")
    return folder if folder not in ("", ".", "..") else FALLBACK_FOLDER


def cart_tar(
    conn: Connection, services: Services, cart: CartRow, uid: str, filename: str | None
) -> StreamingResponse:
    """The tar of a ready cart; 409 when its files are no longer all in the cache."""
    name = download_name(filename)
    folder = member_folder(name, uid, cart_bundled(conn, cart.cart_id)).encode()
    members = _named_members(conn, cart, folder)
    store = ObjectStore(services.settings, direct=False)
    try:
        stream = stream_aggregate(store, members, holding_id=0, write_size=CHUNK)
    except Exception:
        store.close()
        raise
    if stream.failed:
        store.close()
        raise ApiError(
            409,
            f"{len(stream.failed)} file(s) of the cart are not intact in the cache "
            f"({stream.failed[0].reason}): ask for the cart again later.",
            ["path", "uid"],
        )
    commands.cart_downloaded(services.request_log(), cart.user, cart.group, cart.cart_id)

    def body() -> Iterator[bytes]:
        try:
            yield from stream.chunks()
        finally:
            store.close()

    return StreamingResponse(
        body(),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )


def _named_members(conn: Connection, cart: CartRow, folder: bytes) -> list[Member]:
    found = cart_members(conn, cart.cart_id)
    if found.missing:
        raise ApiError(
            409,
            f"{len(found.missing)} file(s) of the cart left the cache or the archive since "
            f"it was ready (first: {path_text(found.missing[0])}): ask for the cart again.",
            ["path", "uid"],
        )
    return [replace(m, path=b"/" + folder + m.path) for m in found.members]
