"""The API application: nearline's own routes under ``/api/v1``, the NLDS 1.0.0 routes
under ``/api/1.0.0``, health at the root, and the body-size limit and the access log
around them all."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from api import system
from api.access_log import AccessLog
from api.auth import Authenticator, make_authenticator
from api.auth.throttle import TokenThrottle
from api.limits import BodyLimit
from api.nlds import PREFIX as NLDS_PREFIX
from api.nlds import nlds_app
from api.services import Services
from api.v1 import PREFIX as V1_PREFIX
from api.v1 import v1_app
from nearline.requests import RequestLog
from nearline.settings import Settings, get_settings
from projections.queries.reader import catalog_reader


def create_app(
    settings: Settings | None = None,
    *,
    authenticator: Authenticator | None = None,
    request_log: Callable[[], RequestLog] | None = None,
) -> ASGIApp:
    """The whole API. Tests pass their own authenticator or request log."""
    settings = settings or get_settings()
    services = Services(
        settings=settings,
        engine=catalog_reader(settings),
        authenticator=authenticator or make_authenticator(settings),
        make_request_log=request_log or (lambda: RequestLog(settings)),
        token_throttle=TokenThrottle(settings.auth.local),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()

    root = FastAPI(
        title="nearline API",
        lifespan=lifespan,
        openapi_url=None,  # each surface documents itself under its own prefix
        docs_url=None,
        redoc_url=None,
    )
    root.state.services = services
    root.include_router(system.router)
    root.mount(V1_PREFIX, v1_app(services))
    root.mount(NLDS_PREFIX, nlds_app(services))
    root.add_middleware(BodyLimit, max_bytes=settings.limits.max_body_bytes)
    return AccessLog(root)
