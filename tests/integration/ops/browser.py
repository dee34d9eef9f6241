"""A headless Chromium driven over the DevTools protocol: open a page, then read its DOM
as it changes (the status page reloads itself)."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any

import aiohttp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Browser:
    def __init__(self) -> None:
        binary = shutil.which("chromium")
        assert binary, "Debian's chromium package is needed (scripts/bootstrap installs it)"
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="nearline-chromium-")
        self.process = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",  # tests run as root
                "--disable-gpu",
                f"--remote-debugging-port={self.port}",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.ids = itertools.count(1)

    async def _page_socket(self, session: aiohttp.ClientSession) -> str:
        deadline = time.monotonic() + 30
        while True:
            try:
                async with session.get(f"http://127.0.0.1:{self.port}/json/list") as reply:
                    pages = [p for p in await reply.json() if p.get("type") == "page"]
                    if pages:
                        return str(pages[0]["webSocketDebuggerUrl"])
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("chromium did not open its DevTools port")
            await asyncio.sleep(0.3)

    async def _call(self, ws: aiohttp.ClientWebSocketResponse, method: str, **params: Any) -> Any:
        call_id = next(self.ids)
        await ws.send_str(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads((await ws.receive()).data)
            if message.get("id") == call_id:
                return message.get("result")

    async def watch(self, url: str, script: str, until: Any, timeout: float) -> list[Any]:
        """Open ``url`` and evaluate ``script`` every half second (the page may reload
        itself in between) until ``until(value)`` holds; return every value seen."""
        seen: list[Any] = []
        async with aiohttp.ClientSession() as session:  # noqa: SIM117 (the socket needs it)
            async with session.ws_connect(await self._page_socket(session), max_msg_size=0) as ws:
                await self._call(ws, "Page.navigate", url=url)
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    result = await self._call(
                        ws, "Runtime.evaluate", expression=script, returnByValue=True
                    )
                    value = (result or {}).get("result", {}).get("value")
                    if value is not None:
                        seen.append(value)
                        if until(value):
                            return seen
                    await asyncio.sleep(0.5)
        raise AssertionError(f"the page never showed what was awaited; it showed {seen[-3:]}")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
