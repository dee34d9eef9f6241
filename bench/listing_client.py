"""The client side of ``bench/find.py``, run in a process of its own so that the memory it
reports is the client's alone: it lists one holding and prints one JSON line of figures.

    python bench/listing_client.py ndjson|pages SERVER SESSION HOLDING [--page 10000]

``ndjson`` is ``Client.each_file`` (the stream); ``pages`` follows the JSON pages'
``next`` as ``after``, one request per page.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from client.library.client import API, Client
from client.library.tokens import load_session


def streamed(server: str, session: Path, holding: int) -> Iterator[Any]:
    with Client(server, session_path=session) as nearline:
        yield from nearline.each_file(holding_id=holding)


def paged(server: str, session: Path, holding: int, size: int) -> Iterator[Any]:
    login = load_session(session)
    if login is None:
        raise SystemExit(f"no login in {session}")
    headers = {"Authorization": f"Bearer {login.access_token}"}
    with httpx.Client(base_url=server, headers=headers, timeout=120) as http:
        after = None
        while True:
            params = {"holding_id": holding, "limit": size, **({"after": after} if after else {})}
            reply = http.get(f"{API}/files", params=params)
            reply.raise_for_status()
            page = reply.json()
            yield from page["files"]
            after = page["next"]
            if after is None:
                return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("way", choices=["ndjson", "pages"])
    parser.add_argument("server")
    parser.add_argument("session", type=Path)
    parser.add_argument("holding", type=int)
    parser.add_argument("--page", type=int, default=10_000)
    args = parser.parse_args()
    started = time.perf_counter()
    entries = (
        streamed(args.server, args.session, args.holding)
        if args.way == "ndjson"
        else paged(args.server, args.session, args.holding, args.page)
    )
    first = None
    count = 0
    for _entry in entries:
        if first is None:
            first = time.perf_counter() - started
        count += 1
    figures = {
        "entries": count,
        "first_s": first,
        "total_s": time.perf_counter() - started,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
