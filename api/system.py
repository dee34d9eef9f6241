"""Health and the status page: the liveness probes (NLDS's ``/probe/healthz``, and
``/healthz`` and ``/readyz`` as every nearline process has them), Prometheus
``/metrics``, and the operators' status page at NLDS's ``/system/status/``.

These routes are open, as probes and scrapers need them to be: to an anonymous caller
they show processors, lag and counts, never user names, transaction ids, paths, file
names or credentials. A caller who sends their token also sees their own recent failed
transactions on the status page (D114).
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from api.deps import OptionalUser, ServicesDep
from api.system_status import SystemStatus, system_status
from nearline.observe.metrics import REGISTRY

router = APIRouter(tags=["system"])


@router.get("/probe/healthz")
@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers; nothing else is checked."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(services: ServicesDep) -> JSONResponse:
    """Ready when the catalog database answers: every read route needs it."""
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return JSONResponse(
            {"ready": False, "reason": f"catalog unreachable ({type(error).__name__})"}, 503
        )
    return JSONResponse({"ready": True, "reason": "catalog reachable"})


@router.get("/metrics")
def metrics() -> Response:
    """Counters and gauges labelled by processor, topic, event type, consumer group and
    storage tier: nothing names a user or a transaction."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@router.get("/system/status/", response_class=HTMLResponse)
async def status_page(services: ServicesDep, viewer: OptionalUser) -> HTMLResponse:
    """Processors (up or down, with lag), cache use, the tape queue and recent failures
    (counted; listed for their owner when the token is sent); the page reloads itself
    every ``metrics.status_refresh_s`` seconds."""
    settings = services.settings
    user = viewer.user if viewer is not None else None
    status = await run_in_threadpool(system_status, settings, services.engine, 10, user)
    return HTMLResponse(render(status, settings.metrics.status_refresh_s))


def _table(headers: Iterable[str], rows: Iterable[Iterable[object]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _when(ms: object) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000)) if isinstance(ms, int) else ""


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _failed(status: SystemStatus) -> str:
    """Everyone's count; the list of the logged-in caller's own failed transactions."""
    count = "unknown" if status.failed_count is None else str(status.failed_count)
    counted = f"{count} in the last 24 hours"
    if status.viewer is None:
        return (
            f'<p id="failed-transactions">{counted}; send your token '
            "(Authorization: Bearer) to see yours.</p>"
        )
    table = _table(
        ("transaction", "user", "action", "state", "when"),
        (
            (f["transaction_id"], f["user"], f["api_action"], f["state"], _when(f["last_updated"]))
            for f in status.failed_transactions
        ),
        "failed-transactions",
    )
    return f"<p id='failed-count'>{counted}; yours:</p>{table}"


def render(status: SystemStatus, refresh_s: int) -> str:
    processors = _table(
        ("processor", "state", "members", "lag", "consumer group"),
        ((g.processor, "up" if g.up else "down", g.members, g.lag, g.group) for g in status.groups),
        "processors",
    )
    cache = "unknown"
    if status.cache is not None:
        cache = f"{_size(status.cache.used_bytes)} in {status.cache.files} files"
        for name, mark in status.cache.watermarks.items():
            share = status.cache.share_of(name)
            cache += f"; {name} {mark:g}" + (f" ({share:.0%} used)" if share else "")
    tape = "unknown" if status.tape_queue is None else f"{status.tape_queue} waiting"
    failed = _failed(status)
    letters = _table(
        ("source record", "kind", "when"),
        ((d["source"], d["kind"], _when(d["at"])) for d in status.dead_letters),
        "dead-letters",
    )
    problems = "".join(f"<li>{html.escape(p)}</li>" for p in status.problems)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='{refresh_s}'>"
        "<title>nearline status</title>"
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}</style>"
        "</head><body>"
        "<h1>nearline status</h1>"
        f"<p id='generated'>generated {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC;"
        f" refreshes every {refresh_s} s</p>"
        + (f"<ul id='problems'>{problems}</ul>" if problems else "")
        + f"<h2>Processors</h2>{processors}"
        + f"<h2>Cache</h2><p id='cache'>{html.escape(cache)}</p>"
        + f"<h2>Tape queue</h2><p id='tape-queue'>{html.escape(tape)}</p>"
        + f"<h2>Recent failed transactions</h2>{failed}"
        + f"<h2>Recent dead letters</h2>{letters}"
        + "</body></html>"
    )
