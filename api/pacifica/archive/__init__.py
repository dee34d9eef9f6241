"""Pacifica's archive interface on its own wire (pacifica-archiveinterface 0.4): files by
id, kept as files of the namespace's holding (D145). Mounted into the API at
``pacifica.archive_prefix``, or served alone by ``python -m api.pacifica``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from api.errors import ApiError, install_error_handlers
from api.pacifica.archive import wire
from api.pacifica.archive.routes import router
from api.pacifica.archive.store import Archive
from api.services import Services

__all__ = ["Archive", "archive_app"]


def archive_app(services: Services) -> tuple[FastAPI, Archive]:
    """The archive interface's app, and what it holds (to close with the API)."""
    app = FastAPI(title="Pacifica archive interface (nearline)", docs_url=None, redoc_url=None)
    archive = Archive(services)
    app.state.services = services
    app.state.archive = archive
    app.include_router(router)
    install_error_handlers(app, _render, not_a_member_status=403)
    app.add_exception_handler(RequestValidationError, _invalid)
    return app, archive


def _render(error: ApiError) -> Response:
    return wire.error(error.status, error.message)


def _invalid(_request: Request, error: Exception) -> Response:
    problems = error.errors() if isinstance(error, RequestValidationError) else []
    where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in problems)
    return wire.error(400, f"Invalid request: {where or error}")
