"""SciCat's archive system: ``POST /scicat/jobs {id, type}``, the call SciCat's ``url``
job action makes (as it calls PSI's ScopeMArchiver at ``/archiver/jobs``). The job is
recorded on ``nearline.scicat`` and answered 201 at once; the SciCat adapter
(``processors.scicat``) does it. Mounted at ``/scicat`` when ``scicat.enabled``.

SciCat's action sends a fixed header, so the caller proves itself with the bearer token
configured on both sides (``scicat.job_token``), not with a user's expiring token
(decision D171); without a configured token the route refuses every call."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

from api import commands
from api.deps import ServicesDep
from api.errors import ApiError, install_error_handlers
from api.services import Services

PREFIX = "/scicat"

_bearer = HTTPBearer(auto_error=False, description="scicat.job_token")


class JobIn(BaseModel):
    """What SciCat's url action sends: the job's id and type."""

    model_config = ConfigDict(extra="ignore")  # a site's template may send more

    id: str
    type: str


class JobAccepted(BaseModel):
    id: str
    type: str
    message: str


def scicat_caller(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """SciCat, proven by the configured job token."""
    expected = services.settings.scicat.job_token.get_secret_value()
    given = credentials.credentials if credentials is not None else ""
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(
            401,
            "Send 'Authorization: Bearer <scicat.job_token>' (the token configured in "
            "SciCat's url job action and in nearline's scicat.job_token).",
            ["header", "Authorization"],
            "Not authenticated.",
            {"WWW-Authenticate": "Bearer"},
        )


def scicat_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="nearline as SciCat's archive system",
        description="SciCat's url job action posts archive and retrieve jobs here.",
        version="1",
    )
    app.state.services = services

    @app.post("/jobs", status_code=201, dependencies=[Depends(scicat_caller)])
    def create_job(body: JobIn, services: ServicesDep) -> JobAccepted:
        """Record the job; nearline reads it from SciCat and reports there."""
        scicat = services.settings.scicat
        commands.scicat_job(
            services.request_log(), scicat.account, scicat.group, body.id, body.type, "url"
        )
        return JobAccepted(id=body.id, type=body.type, message="Job accepted by nearline")

    install_error_handlers(app, _render)
    return app


def _render(error: ApiError) -> JSONResponse:
    return JSONResponse(status_code=error.status, content={"detail": error.message})
