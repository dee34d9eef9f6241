"""The NLDS 1.0.0 surface, served under ``/api/1.0.0`` for the unchanged ``nlds`` client."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from api.errors import ApiError, install_error_handlers
from api.nlds import catalog, files, init, status
from api.nlds.wire import error_body
from api.services import Services

PREFIX = "/api/1.0.0"


def nlds_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="nearline: NLDS 1.0.0 routes",
        description="The routes and wire format of CEDA's NLDS 1.0.0, for the nlds client.",
        version="1.0.0",
    )
    app.state.services = services
    for module in (files, catalog, status, init):
        app.include_router(module.router)
    install_error_handlers(app, _render)
    return app


def _render(error: ApiError) -> JSONResponse:
    """NLDS's error shape; the client prints the ``msg`` inside."""
    return JSONResponse(
        status_code=error.status, content=error_body(error.loc, error.message, error.kind)
    )
