"""``nearline cart ...``: bundle files into one tar to download over HTTP, for users
without access to the file system the files came from."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from client.cli import app
from client.cli.common import (
    GroupAll,
    HoldingId,
    Json,
    Label,
    Server,
    Tags,
    client,
    handled,
    human_size,
    out,
    parse_tags,
    print_json,
    print_table,
)
from client.library import Client, NotFound, Refused
from client.library.models import Cart

cart_app = typer.Typer(help="Carts: files bundled into one tar to download.", no_args_is_help=True)
app.add_typer(cart_app, name="cart")

CartId = Annotated[str, typer.Argument(help="The cart's id.")]
WAITING = ("waiting", "staging", "bundling")


def _row(cart: Cart) -> list[object]:
    return [
        cart["cart_id"],
        cart["state"],
        cart["file_count"],
        human_size(cart["total_size"]),
        cart["message"],
        cart["updated_at"][:19],
    ]


COLUMNS = ["cart", "state", "files", "size", "message", "updated"]


@cart_app.command("create")
@handled
def create(
    paths: Annotated[list[str] | None, typer.Argument(help="Exact paths as they were put.")] = None,
    regex: Annotated[str | None, typer.Option("--regex", "-r", help="Paths matching this.")] = None,
    label: Label = None,
    holding_id: HoldingId = None,
    tag: Tags = None,
    groupall: GroupAll = False,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Ask for a cart of the files `nearline find` shows with the same filters."""
    with client(server) as nearline:
        cart = nearline.create_cart(
            paths or [],
            regex=regex,
            label=label,
            holding_id=holding_id,
            tags=parse_tags(tag),
            groupall=groupall,
        )
    if as_json:
        print_json(cart)
        return
    out.print(
        f"Cart {cart['cart_id']} is {cart['state']}.\n"
        f"Download it when ready with: nearline cart download {cart['cart_id']} --wait",
        markup=False,
        highlight=False,
    )


@cart_app.command("list")
@handled
def list_carts(server: Server = None, as_json: Json = False) -> None:
    """Your carts and their states."""
    with client(server) as nearline:
        carts = nearline.carts()
    if as_json:
        print_json(carts)
        return
    print_table("Carts", COLUMNS, (_row(c) for c in carts))


@cart_app.command("status")
@handled
def status(cart_id: CartId, server: Server = None, as_json: Json = False) -> None:
    """One cart's state (waiting, staging, bundling, ready or error) and message."""
    with client(server) as nearline:
        cart = nearline.cart(cart_id)
    if as_json:
        print_json(cart)
        return
    print_table("Carts", COLUMNS, [_row(cart)])


@cart_app.command("download")
@handled
def download(
    cart_id: CartId,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write the tar.")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the cart is ready.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait at most.")] = 3600,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Download a ready cart as one tar file (default name: cart-<id>.tar)."""
    destination = output or Path(f"cart-{cart_id}.tar")
    with client(server) as nearline:
        if wait:
            _wait_ready(nearline, cart_id, timeout)
        size = nearline.save_cart(cart_id, destination, destination.name)
    if as_json:
        print_json({"cart_id": cart_id, "file": str(destination), "size": size})
        return
    out.print(f"Wrote {destination} ({human_size(size)}).", markup=False, highlight=False)


def _wait_ready(nearline: Client, cart_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    unseen_until = time.monotonic() + 30  # a new cart shows once the projection has it
    while True:
        try:
            cart = nearline.cart(cart_id)
        except NotFound:
            if time.monotonic() > unseen_until:
                raise
            time.sleep(0.5)
            continue
        if cart["state"] == "error":
            raise Refused(f"Cart {cart_id} failed: {cart['message']}", "Delete it and ask again.")
        if cart["state"] not in WAITING:
            return
        if time.monotonic() > deadline:
            raise Refused(f"Cart {cart_id} is still {cart['state']} after {timeout} s.")
        time.sleep(0.5)


@cart_app.command("delete")
@handled
def delete(cart_id: CartId, server: Server = None, as_json: Json = False) -> None:
    """Delete a cart."""
    with client(server) as nearline:
        reply = nearline.delete_cart(cart_id)
    if as_json:
        print_json(reply)
        return
    out.print(reply.get("message", "Cart deleted."), markup=False, highlight=False)
