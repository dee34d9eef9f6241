"""The cart process: ``python -m processors.carts worker``.

It reads ``nearline.carts`` (key: user, so one user's carts are handled in order),
prepares each requested cart against the catalog projection and writes the cart's
states back to ``nearline.carts``; then it purges the owner's least recently used carts.
"""

from __future__ import annotations

import asyncio
from typing import Any

from api.db import catalog_reader
from events.carts import CartRequested, CartStateChanged
from events.topics import CARTS
from nearline.settings import get_settings
from processors.app import decoded, make_app, send_all
from processors.carts.prepare import prepare, purge

settings = get_settings()
app = make_app("carts", settings)
carts = app.topic(CARTS)
engine = catalog_reader(settings)


def decide(request: CartRequested) -> list[CartStateChanged]:
    with engine.connect() as conn:
        decided = prepare(conn, request)
        return decided + purge(conn, request, settings.carts.keep_per_user)


@app.agent(carts, concurrency=1)
async def handle(stream: Any) -> None:
    loop = asyncio.get_running_loop()
    async for event, _record in decoded(stream, app):
        if not isinstance(event, CartRequested):
            continue  # the processor's own facts, downloads and deletions
        decided = await loop.run_in_executor(None, decide, event)
        await send_all(app, [(CARTS, event.user.encode(), fact) for fact in decided])


if __name__ == "__main__":
    app.main()
