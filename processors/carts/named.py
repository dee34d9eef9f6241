"""Preparing a cart of files its client named one by one (Pacifica's cart wire): each
entry is a path in the owner's holding, a name in the tar and an expected hash.

The cart goes through the states of any cart: ``staging`` while its files are found
(and recalled from tape, as ``processors.carts.recall`` does for every cart), then
``bundling`` with its files fixed in the client's order, while their hashes are checked
(``processors.carts.hashes``), then ``ready``, or ``error`` naming the file at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.pacifica import id_of
from events.carts import CartEntry, CartOfFilesRequested
from processors.carts.ports import CartFile, CatalogReads
from processors.carts.prepare import CACHE, Preparation, state
from stores.tape.aggregate import Member


@dataclass(frozen=True)
class Named(Preparation):
    """A preparation that ends in ``bundling``: the hashes of ``to_check`` decide the
    rest (``ready`` or ``error``)."""

    to_check: list[tuple[CartEntry, Member]] = field(default_factory=list)


def prepare_named(
    reads: CatalogReads, request: CartOfFilesRequested, recalled: str | None = None
) -> Named:
    """The states so far: staging, then bundling with the files to check, or error. Files
    only on tape are to be recalled first, unless that was tried (``recalled`` says why
    they are still on tape)."""
    decided = [state(request, "staging")]
    found = reads.named_cart_files(request)
    missing = [e for e in request.files if e["path"] not in found]
    if missing:
        shown = _shown(missing[0]["path"])
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        message = f"File {shown} is not in the archive{more}."
        return Named([*decided, state(request, "error", message)])
    files = [found[e["path"]] for e in request.files]
    on_tape = [f for f in {f.id: f for f in files}.values() if not _cached(f)]
    if on_tape:
        if recalled is not None:
            return Named([*decided, state(request, "error", recalled)])
        return Named(decided, on_tape)
    to_check = [(e, _member(f)) for e, f in zip(request.files, files, strict=True)]
    bundling = state(
        request,
        "bundling",
        file_ids=[f.id for f in files],
        total_size=sum(f.size for f in files),
    )
    return Named([*decided, bundling], to_check=to_check)


def _cached(f: CartFile) -> bool:
    return any(loc.storage_type == CACHE for loc in f.locations)


def _member(f: CartFile) -> Member:
    key = next(loc.path for loc in f.locations if loc.storage_type == CACHE)
    return Member(
        file_id=f.id,
        path=f.path,
        object_key=key,
        size=f.size,
        mode=f.mode,
        mtime_ns=f.mtime_ns,
        sha256=f.checksums.get("SHA256", ""),
        adler32=f.checksums.get("ADLER32", ""),
    )


def _shown(path: bytes) -> str:
    """A file as its client named it: the Pacifica id, or the path."""
    text = path.decode("utf-8", "backslashreplace")
    file_id = id_of(text)
    return f"id {file_id}" if file_id is not None else text
