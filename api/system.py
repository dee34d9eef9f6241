"""Health: the liveness probe and a minimal status page (NLDS's ``/probe/healthz`` and
``/system/status/``)."""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.deps import ServicesDep

router = APIRouter(tags=["system"])


@router.get("/probe/healthz")
def healthz() -> dict[str, str]:
    """The process answers; nothing else is checked."""
    return {"status": "ok"}


@router.get("/system/status/", response_class=HTMLResponse)
def system_status(services: ServicesDep) -> HTMLResponse:
    """Whether the API can read the catalog."""
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        catalog = "reachable"
    except SQLAlchemyError as error:
        catalog = f"unreachable ({type(error).__name__})"
    rows = [("api", "up"), ("catalog database", catalog)]
    cells = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(state)}</td></tr>"
        for name, state in rows
    )
    return HTMLResponse(
        "<!doctype html><html><head><title>nearline status</title></head><body>"
        f"<h1>nearline status</h1><table>{cells}</table></body></html>"
    )
