"""Carts on ``nearline.carts`` (key: user): requests the API records (a cart asked for,
downloaded, deleted) and the cart processor's state facts. Fields are documented in
``schemas/carts/``."""

from __future__ import annotations

from typing import ClassVar, TypedDict

from events.base import Event, event_type

CART_STATES = ("waiting", "staging", "bundling", "ready", "error", "purged")
IN_PROGRESS = frozenset({"waiting", "staging", "bundling"})


@event_type
class CartRequested(Event):
    """A user asked for a cart of the files a FIND with these filters shows."""

    schema_name: ClassVar[str] = "nearline.carts.CartRequested"

    cart_id: str
    paths: list[bytes]
    regex: str | None
    label: str | None
    holding_id: int | None
    tags: dict[str, str]
    groupall: bool
    max_files: int


class CartEntry(TypedDict):
    """One file a client named for a cart: where it is kept, its name in the tar, and
    the hash the client expects of its content."""

    path: bytes
    member: bytes
    hashtype: str
    hashsum: str


@event_type
class CartOfFilesRequested(Event):
    """A client asked for a cart of files it names one by one (Pacifica's cart wire)."""

    schema_name: ClassVar[str] = "nearline.carts.CartOfFilesRequested"

    cart_id: str
    client_uid: str
    owner: str
    label: str
    files: list[CartEntry]
    bundle: bool
    max_files: int


@event_type
class CartDeleteRequested(Event):
    """The owner deleted a cart."""

    schema_name: ClassVar[str] = "nearline.carts.CartDeleteRequested"

    cart_id: str


@event_type
class CartDownloaded(Event):
    """The owner began downloading a ready cart."""

    schema_name: ClassVar[str] = "nearline.carts.CartDownloaded"

    cart_id: str


@event_type
class CartStateChanged(Event):
    """The cart processor moved a cart to a new state."""

    schema_name: ClassVar[str] = "nearline.carts.CartStateChanged"

    cart_id: str
    state: str
    message: str
    file_ids: list[int]
    total_size: int
