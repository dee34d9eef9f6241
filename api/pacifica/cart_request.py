"""The body of cartd's ``POST /<uid>``, checked before anything is recorded: each entry
names an archive-interface id, its path inside the tar and the hash its content must
have. Unlike cartd, which writes each file at ``<volume>/<cart>/<path>`` as given (a
``..`` climbs out) and fails late on a hash it cannot compute, a path that is not a plain
relative name or a hash that cannot be checked is refused here, with nothing recorded."""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, StrictInt, StrictStr

from api.errors import ApiError
from domain.pacifica import BadFileId, file_path
from events.carts import CartEntry

# Names clients give carts (Pacifica's downloader: a UUID); never a path.
CART_UID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
HEX = re.compile(r"[0-9A-Fa-f]+")
# hashlib's algorithms with a fixed digest (shake's needs a length cartd never sends).
HASHTYPES = frozenset(a for a in hashlib.algorithms_guaranteed if not a.startswith("shake"))
MAX_MEMBER_BYTES = 4096


class FileIdIn(BaseModel):
    id: StrictInt | StrictStr
    path: StrictStr
    hashtype: StrictStr
    hashsum: StrictStr


class CartBody(BaseModel):
    fileids: list[FileIdIn]
    bundle: bool | None = None


def checked_uid(uid: str) -> str:
    if not CART_UID.fullmatch(uid):
        raise ApiError(
            400,
            f"Not a cart uid: {uid[:64]!r} (letters, digits, . _ -; at most 128, as a UUID).",
            ["path", "uid"],
        )
    return uid


def cart_entries(body: CartBody, max_files: int) -> list[CartEntry]:
    """The entries to record, each at ``/<id>`` of the namespace's holding."""
    if not body.fileids:
        raise ApiError(400, "The cart names no file: give at least one in fileids.", ["fileids"])
    if len(body.fileids) > max_files:
        raise ApiError(
            413,
            f"The cart names {len(body.fileids)} files and at most {max_files} are taken: "
            "split it into several carts.",
            ["fileids"],
        )
    entries: list[CartEntry] = []
    members: set[bytes] = set()
    for n, given in enumerate(body.fileids):
        where = ["fileids", str(n)]
        try:
            path = file_path(str(given.id))
        except BadFileId as error:
            raise ApiError(400, str(error), [*where, "id"]) from None
        member = _member(given.path, [*where, "path"])
        if member in members:
            raise ApiError(400, f"Two files are named {given.path!r} in the cart.", where)
        members.add(member)
        hashtype, hashsum = _hash(given, where)
        entries.append(
            CartEntry(path=path.encode(), member=member, hashtype=hashtype, hashsum=hashsum.lower())
        )
    return entries


def _member(path: str, where: list[str]) -> bytes:
    """The file's name in the tar: ``path`` without one leading ``/`` (as cartd), and
    only if it is a plain relative path that extracts where it says."""
    name = path[1:] if path.startswith("/") else path
    try:
        encoded = name.encode()
    except UnicodeEncodeError:
        raise ApiError(400, f"The path {path[:64]!r} is not valid text.", where) from None
    parts = encoded.split(b"/")
    if (
        not encoded
        or len(encoded) > MAX_MEMBER_BYTES
        or b"\0" in encoded
        or any(part in (b"", b".", b"..") for part in parts)
    ):
        raise ApiError(
            400,
            f"The path {path[:64]!r} cannot name a file in the cart: give a relative path "
            f"without '.', '..' or empty parts, of at most {MAX_MEMBER_BYTES} bytes.",
            where,
        )
    return encoded


def _hash(given: FileIdIn, where: list[str]) -> tuple[str, str]:
    hashtype = given.hashtype.lower()
    if hashtype not in HASHTYPES:
        raise ApiError(
            400,
            f"Unknown hashtype {given.hashtype[:32]!r}: one of {', '.join(sorted(HASHTYPES))}.",
            [*where, "hashtype"],
        )
    length = hashlib.new(hashtype).digest_size * 2
    if len(given.hashsum) != length or not HEX.fullmatch(given.hashsum):
        raise ApiError(
            400,
            f"The hashsum of {given.path[:64]!r} is not a {hashtype} digest "
            f"({length} hexadecimal digits).",
            [*where, "hashsum"],
        )
    return hashtype, given.hashsum
