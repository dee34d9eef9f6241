"""Carts: a user's own carts (owner only: carts are never shared, even with groupall),
and the members of a ready cart as the tar stream needs them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import Connection, select

from domain.states import OBJECT_STORAGE
from projections import tables as t
from stores.tape.aggregate import Member

GONE = ("deleted", "purged")


CART_COLUMNS = (
    "cart_id",
    "user",
    "group",
    "state",
    "message",
    "file_count",
    "total_size",
    "created_at",
    "updated_at",
    "last_access",
)


@dataclass(frozen=True)
class CartRow:
    cart_id: str
    user: str
    group: str
    state: str
    message: str
    file_count: int
    total_size: int
    created_at: int
    updated_at: int
    last_access: int | None


def find_carts(conn: Connection, user: str, cart_id: str | None = None) -> list[CartRow]:
    """The user's carts (one, with ``cart_id``), newest first; deleted ones are gone."""
    c = t.carts
    query = select(*(c.c[name] for name in CART_COLUMNS))
    query = query.where(c.c.user == user, c.c.state.not_in(GONE))
    if cart_id is not None:
        query = query.where(c.c.cart_id == cart_id)
    rows = conn.execute(query.order_by(c.c.created_at.desc(), c.c.cart_id)).all()
    return [CartRow(**row._asdict()) for row in rows]


def client_carts(conn: Connection, user: str, client_uid: str) -> list[CartRow]:
    """The user's live carts that their client named ``client_uid``, newest first: the
    first is the one the name reaches (Pacifica's cart uid), never another user's."""
    c = t.carts
    query = select(*(c.c[name] for name in CART_COLUMNS)).where(
        c.c.user == user, c.c.client_uid == client_uid, c.c.state.not_in(GONE)
    )
    rows = conn.execute(query.order_by(c.c.created_at.desc(), c.c.cart_id)).all()
    return [CartRow(**row._asdict()) for row in rows]


def cart_entry_names(conn: Connection, cart_id: str) -> list[bytes]:
    """The names a client gave a cart's files in the tar, in the cart's order."""
    e = t.cart_entries
    query = select(e.c.member).where(e.c.cart_id == cart_id).order_by(e.c.position)
    return [row.member for row in conn.execute(query)]


def cart_bundled(conn: Connection, cart_id: str) -> bool:
    """Whether a client asked for the cart with Pacifica's bundle flag."""
    return bool(conn.execute(select(t.carts.c.bundle).where(t.carts.c.cart_id == cart_id)).scalar())


def cart_owner(conn: Connection, cart_id: str) -> str | None:
    """Who owns a cart id, deleted or not: ids are never reused."""
    return conn.execute(select(t.carts.c.user).where(t.carts.c.cart_id == cart_id)).scalar()


@dataclass(frozen=True)
class CartMembers:
    members: list[Member]
    missing: list[bytes]  # files no longer in the cache (evicted or deleted since)


def cart_members(conn: Connection, cart_id: str) -> CartMembers:
    """The files of a cart, each with its object in the S3 cache and its checksums, and
    named as its client named it in a cart of named files (Pacifica's)."""
    f, cf = t.files, t.cart_files
    rows = conn.execute(
        select(f.c.id, f.c.path, f.c.size, f.c.mode, f.c.mtime_ns)
        .select_from(cf.join(f, f.c.id == cf.c.file_id))
        .where(cf.c.cart_id == cart_id)
        .order_by(cf.c.position)
    ).all()
    # The cart's own rows name the files: no list of ids goes back to the database.
    in_cart = select(cf.c.file_id).where(cf.c.cart_id == cart_id)
    loc = t.locations
    keys: dict[int, str] = {}
    sums: dict[int, dict[str, str]] = defaultdict(dict)
    cached = select(loc.c.file_id, loc.c.path).where(
        loc.c.file_id.in_(in_cart), loc.c.storage_type == OBJECT_STORAGE
    )
    for file_id, key in conn.execute(cached):
        keys[file_id] = key
    checksums = select(t.checksums).where(t.checksums.c.file_id.in_(in_cart))
    for row in conn.execute(checksums):
        sums[row.file_id][row.algorithm] = row.value
    members: list[Member] = []
    missing: list[bytes] = []
    for r in rows:
        if r.id not in keys:
            missing.append(r.path)
            continue
        members.append(
            Member(
                file_id=r.id,
                path=r.path,
                object_key=keys[r.id],
                size=r.size,
                mode=r.mode,
                mtime_ns=r.mtime_ns,
                sha256=sums[r.id].get("SHA256", ""),
                adler32=sums[r.id].get("ADLER32", ""),
            )
        )
    names = cart_entry_names(conn, cart_id)
    if names and not missing and len(names) == len(members):
        # a cart of named files: each is called in the tar what its client named it
        members = [replace(m, path=b"/" + name) for m, name in zip(members, names, strict=True)]
    return CartMembers(members, missing)


def first(items: Sequence[bytes]) -> str:
    return items[0].decode("utf-8", "backslashreplace") if items else ""
