"""The body-size limit of every route: a body over ``limits.max_body_bytes`` is answered
413 with the limit, before a route parses it, so that an oversized request never reaches
Kafka and never costs more than the limit in memory. (The number of paths is checked
where every request is recorded: ``nearline.requests``.) The one exception: a ``PUT``
below a prefix given as ``streamed_puts`` (the Pacifica archive interface's), whose body
is a file of any size that its route streams to the cache, never holding it whole."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.nlds import PREFIX as NLDS_PREFIX
from api.nlds.wire import error_body


class BodyTooLarge(Exception):
    """Raised into the route that reads past the limit, after the 413 was sent."""


class BodyLimit:
    """ASGI middleware: a declared length over the limit is refused at once; a body sent
    in chunks is counted as it is read, and refused when it passes the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, streamed_puts: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streamed_puts = tuple(prefix.rstrip("/") + "/" for prefix in streamed_puts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._streamed(scope):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        refused = False

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not refused:
                    refused = True
                    await self._refuse(scope, send)
                    raise BodyTooLarge
            return message

        async def unless_refused(message: Message) -> None:
            if not refused:  # the route's own answer to the exception is dropped
                await send(message)

        try:
            await self.app(scope, counted, unless_refused)
        except BodyTooLarge:
            pass
        except Exception:
            if not refused:
                raise

    def _streamed(self, scope: Scope) -> bool:
        return scope["method"] == "PUT" and scope["path"].startswith(self.streamed_puts)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        message = (
            f"The request body is over the limit of {self.max_bytes} bytes "
            "(limits.max_body_bytes): split it into several requests, or name the folders "
            "that hold the files (folders are walked)."
        )
        content = {"detail": message}
        if scope["path"].startswith(NLDS_PREFIX):
            content = error_body(["body"], message, "Request too large.")
        response = JSONResponse(content, status_code=413, headers={"Connection": "close"})
        await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
