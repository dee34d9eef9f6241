"""Preparing a cart: what the processor decides for one ``CartRequested``.

The selection is FIND's (against the catalog projection, read through the port its wiring
gives, ``ports.CatalogReads``; D11, D140), so a cart holds what ``nearline find`` shows
with the same filters. Only regular files go in a
cart (folders and links have no content to download). Every decision is a
``CartStateChanged`` with a deterministic id, so a redelivered request decides the same
facts again, which the projection ignores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.queries import InvalidQuery, QueryTooSlow
from events.base import event_id_for
from events.carts import CartOfFilesRequested, CartRequested, CartStateChanged
from processors.app import now_ms
from processors.carts.ports import CartFile, CatalogReads
from stores.tape.aggregate import Member

CACHE = "OBJECT_STORAGE"

CartRequest = CartRequested | CartOfFilesRequested
"""A cart asked for by filters (nearline's own API) or by naming its files (Pacifica's)."""


def state(
    request: CartRequest,
    name: str,
    message: str = "",
    file_ids: Sequence[int] = (),
    total_size: int = 0,
) -> CartStateChanged:
    return CartStateChanged(
        event_id=event_id_for(request.cart_id, "cart", name),
        transaction_id=request.transaction_id,
        user=request.user,
        group=request.group,
        cause_id=request.event_id,
        occurred_at=now_ms(),
        cart_id=request.cart_id,
        state=name,
        message=message,
        file_ids=list(file_ids),
        total_size=total_size,
    )


@dataclass(frozen=True)
class Preparation:
    """What preparing a cart decided: its states so far, and the files it needs from tape
    first (then it is prepared again once they are in the cache)."""

    states: list[CartStateChanged]
    on_tape: list[CartFile] = field(default_factory=list)


def prepare(
    reads: CatalogReads, request: CartRequested, recalled: str | None = None
) -> Preparation:
    """The states the cart goes through: staging, then bundling and ready, or error.
    Files only on tape are to be recalled first, unless that was tried (``recalled``
    says why files are still on tape): then the cart fails with it."""
    decided = [state(request, "staging")]
    try:
        files = reads.cart_files(request)
    except (InvalidQuery, QueryTooSlow) as error:
        return Preparation([*decided, state(request, "error", str(error))])
    if not files:
        message = "No file matches the cart's selection."
        return Preparation([*decided, state(request, "error", message)])
    if len(files) > request.max_files:
        message = (
            f"The selection has more than {request.max_files} files: narrow it "
            "(a label, a holding, tags or a regex) and ask again."
        )
        return Preparation([*decided, state(request, "error", message)])
    unnamable = [f for f in files if not _tar_member_name_ok(f)]
    if unnamable:
        message = f"{unnamable[0].path!r} cannot be named in a tar file."
        return Preparation([*decided, state(request, "error", message)])
    on_tape = [f for f in files if not any(loc.storage_type == CACHE for loc in f.locations)]
    if on_tape:
        if recalled is not None:
            return Preparation([*decided, state(request, "error", recalled)])
        return recall_for_cart(request, decided, on_tape)
    ids = [f.id for f in sorted(files, key=lambda f: (f.path, f.id))]
    total = sum(f.size for f in files)
    return Preparation(
        [
            *decided,
            state(request, "bundling", file_ids=ids, total_size=total),
            state(request, "ready"),
        ]
    )


def recall_for_cart(
    request: CartRequested, decided: list[CartStateChanged], on_tape: Sequence[CartFile]
) -> Preparation:
    """Files the cart needs that are only on tape: the cart stays ``staging`` while they
    are recalled (``processors.carts.recall``), then it is prepared again."""
    return Preparation(decided, list(on_tape))


def _tar_member_name_ok(f: CartFile) -> bool:
    try:
        Member(f.id, f.path, "", f.size, f.mode, f.mtime_ns, "", "")
    except ValueError:
        return False
    return True


def purge(reads: CatalogReads, request: CartRequest, keep: int) -> list[CartStateChanged]:
    """Purge the owner's least recently used finished carts beyond ``keep`` (the new cart
    counts as one); carts in progress are never purged."""
    finished = reads.finished_carts(request.user, but=request.cart_id)
    now = now_ms()
    return [
        CartStateChanged(
            event_id=event_id_for(cart_id, "cart", "purged"),
            transaction_id=cart_id,
            user=request.user,
            group=request.group,
            cause_id=request.event_id,
            occurred_at=now,
            cart_id=cart_id,
            state="purged",
            message="purged: least recently used",
            file_ids=[],
            total_size=0,
        )
        for cart_id in finished[max(keep - 1, 0) :]
    ]
