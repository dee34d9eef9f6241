"""The cart process: ``python -m processors.carts worker``.

It reads ``nearline.carts`` (key: user, so one user's carts are handled in order),
prepares each requested cart against the catalog projection and writes the cart's
states back to ``nearline.carts``; then it purges the owner's least recently used carts.
A cart of files only on tape stays ``staging`` while they are staged (``StageRequested``
on ``nearline.requests``) and is prepared again once the stages have finished; the cart
is acknowledged only then, so a crash in between asks for the same stages again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from events.carts import CartOfFilesRequested, CartRequested, CartStateChanged
from events.topics import CARTS, REQUESTS
from nearline.settings import get_settings
from processors.app import decoded, make_app, send_all
from processors.carts.hashes import hash_mismatch
from processors.carts.named import prepare_named
from processors.carts.prepare import prepare, purge, state
from processors.carts.recall import recall_failed_message, stages_for_cart, wait_for_stages
from processors.carts.wiring import CachedContents, catalog_reads

settings = get_settings()
app = make_app("carts", settings)
carts = app.topic(CARTS)
reads = catalog_reads(settings)  # the projections, through the cart port (D140)
cache = CachedContents(settings)


STAGE_WAIT_S = settings.recall.stage_timeout_s + 600  # the recall's own deadline, and then some


def decide(request: CartRequested) -> list[CartStateChanged]:
    """Prepare the cart; files only on tape are staged first, and the cart prepared again."""
    prepared = prepare(reads, request)
    if prepared.on_tape:
        stages = stages_for_cart(request, prepared.on_tape)
        send(prepared.states + stages)
        stage_ids = [s.transaction_id for s in stages]
        results = wait_for_stages(reads, stage_ids, request.user, STAGE_WAIT_S)
        prepared = prepare(reads, request, recall_failed_message(results, STAGE_WAIT_S))
    return prepared.states + purge(reads, request, settings.carts.keep_per_user)


def decide_named(request: CartOfFilesRequested) -> list[CartStateChanged]:
    """A cart of files its client named: as ``decide``, then the files' hashes are checked
    while the cart shows ``bundling``."""
    prepared = prepare_named(reads, request)
    if prepared.on_tape:
        stages = stages_for_cart(request, prepared.on_tape)
        send(prepared.states + stages)
        stage_ids = [s.transaction_id for s in stages]
        results = wait_for_stages(reads, stage_ids, request.user, STAGE_WAIT_S)
        prepared = prepare_named(reads, request, recall_failed_message(results, STAGE_WAIT_S))
    decided = prepared.states
    if prepared.to_check:
        send(decided)  # bundling shows while the hashes are checked
        mismatch = hash_mismatch(cache, prepared.to_check)
        decided = [state(request, "error", mismatch) if mismatch else state(request, "ready")]
    return decided + purge(reads, request, settings.carts.keep_per_user)


def send(events: list) -> None:
    """Send from the worker thread, through the app's loop."""
    future = asyncio.run_coroutine_threadsafe(_send(events), loop)
    future.result(timeout=60)


async def _send(events: list) -> None:
    await send_all(
        app,
        [
            (CARTS if isinstance(e, CartStateChanged) else REQUESTS, e.user.encode(), e)
            for e in events
        ],
    )


loop: asyncio.AbstractEventLoop


@app.agent(carts, concurrency=4)
async def handle(stream: Any) -> None:
    global loop
    loop = asyncio.get_running_loop()
    async for event, _record in decoded(stream, app):
        if isinstance(event, CartRequested):
            decided = await loop.run_in_executor(None, decide, event)
        elif isinstance(event, CartOfFilesRequested):
            decided = await loop.run_in_executor(None, decide_named, event)
        else:
            continue  # the processor's own facts, downloads and deletions
        await send_all(app, [(CARTS, event.user.encode(), fact) for fact in decided])


if __name__ == "__main__":
    app.main()
