"""Structured access logs: one JSON line per request, never with a token, a password or
the object-store keys NLDS clients send as query parameters."""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nearline.observe import logs

log = logging.getLogger("nearline.api.access")

DROPPED = frozenset(
    {
        "access_key",
        "secret_key",
        "tenancy",
        "token",
        "access_token",
        "refresh_token",
        "password",
        "client_secret",
    }
)
"""Query parameters that never reach a log line (compared case-insensitively)."""

_NOTE = "nearline.access"


def scrubbed_query(query: bytes | str) -> str:
    """The query string without the parameters in DROPPED."""
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    kept = [(k, v) for k, v in parse_qsl(text, keep_blank_values=True) if k.lower() not in DROPPED]
    return urlencode(kept)


def note_user(scope: Scope, user: str) -> None:
    """Tell the access log who the request was authenticated as."""
    note = scope.get(_NOTE)
    if isinstance(note, dict):
        note["user"] = user


class AccessLog:
    """ASGI middleware writing the access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        note: dict[str, Any] = {"user": None, "status": 500}
        scope[_NOTE] = note
        # Routes run in other threads with a copy of this context: they write the
        # transaction id they recorded into the shared note.
        reset = logs.request_note.set(note)
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                note["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            logs.request_note.reset(reset)
            client = scope.get("client")
            log.info(
                json.dumps(
                    {
                        "method": scope["method"],
                        "path": scope["path"],
                        "query": scrubbed_query(scope.get("query_string", b"")),
                        "status": note["status"],
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                        "user": note["user"],
                        "client": client[0] if client else None,
                    }
                ),
                extra={"transaction_id": note.get("transaction_id")},
            )
