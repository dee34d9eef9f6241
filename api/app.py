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
from api.pacifica.archive import archive_app
from api.pacifica.caller import bind_host
from api.pacifica.cart import cart_app
from api.scicat import PREFIX as SCICAT_PREFIX
from api.scicat import scicat_app
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
    services = make_services(settings, authenticator=authenticator, request_log=request_log)
    closing: list[Callable[[], None]] = [services.close]

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        for close in closing:
            close()

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
    if settings.scicat.enabled:
        root.mount(SCICAT_PREFIX, scicat_app(services))
    if settings.pacifica.enabled:  # Pacifica's cartd wire (docs/pacifica.md)
        root.mount(settings.pacifica.cart_prefix, cart_app(services))
    unlimited: list[str] = []
    if settings.pacifica.enabled:
        bind_host(settings, "api")  # trusted-network mode: only on the trusted address
        archive, state = archive_app(services)
        root.mount(settings.pacifica.archive_prefix, archive)
        closing.insert(0, state.close)
        unlimited.append(settings.pacifica.archive_prefix)  # its PUTs are whole files
    root.add_middleware(
        BodyLimit, max_bytes=settings.limits.max_body_bytes, streamed_puts=tuple(unlimited)
    )
    return AccessLog(root)


def make_services(
    settings: Settings,
    *,
    authenticator: Authenticator | None = None,
    request_log: Callable[[], RequestLog] | None = None,
) -> Services:
    """What the routes share, for the API or a surface served alone."""
    return Services(
        settings=settings,
        engine=catalog_reader(settings),
        authenticator=authenticator or make_authenticator(settings),
        make_request_log=request_log or (lambda: RequestLog(settings)),
        token_throttle=TokenThrottle(settings.auth.local),
    )
