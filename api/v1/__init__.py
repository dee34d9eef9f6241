"""nearline's own versioned JSON API, served under ``/api/v1`` with its OpenAPI at
``/api/v1/openapi.json``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from api.errors import ApiError, install_error_handlers
from api.services import Services
from api.v1 import (
    carts,
    deletes,
    files,
    gets,
    history,
    holdings,
    puts,
    quota,
    stages,
    system,
    token,
    transactions,
    whoami,
)

PREFIX = "/api/v1"


def v1_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="nearline",
        description=(
            "nearline's API. Authenticate with a bearer token from POST /token. Commands "
            "(puts, gets, stages, deletes, meta) are recorded and answered 202 at once; follow "
            "them at /transactions/{id}. Paths are text, plus path_b64 (base64 of the exact "
            "bytes) when they are not valid UTF-8."
        ),
        version="1",
    )
    app.state.services = services
    for module in (
        token,
        whoami,
        puts,
        gets,
        stages,
        deletes,
        holdings,
        files,
        transactions,
        quota,
        carts,
        history,
        system,
    ):
        app.include_router(module.router)
    # Naming a group you are not in is forbidden here; NLDS calls it "not found".
    install_error_handlers(app, _render, not_a_member_status=403)
    return app


def _render(error: ApiError) -> JSONResponse:
    field = error.loc[-1] if error.loc and error.status == 400 else None
    content = {"detail": error.message} | ({"field": field} if field else {})
    return JSONResponse(status_code=error.status, content=content)
