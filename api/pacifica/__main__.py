"""``python -m api.pacifica``: the Pacifica surfaces (archive interface and cart wire) as
a process of their own, on ``pacifica.port``, each at its prefix as in the API, with the
API's Kafka principal. In the trusted-network mode it binds ``pacifica.trusted_host`` and
nothing else."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from api.access_log import AccessLog
from api.app import make_services
from api.limits import BodyLimit
from api.pacifica.archive import archive_app
from api.pacifica.caller import bind_host
from api.pacifica.cart import cart_app
from nearline.observe import logs
from nearline.settings import Settings, get_settings


def pacifica_app(settings: Settings) -> ASGIApp:
    services = make_services(settings)
    archive, state = archive_app(services)
    root = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    root.mount(settings.pacifica.archive_prefix, archive)
    root.mount(settings.pacifica.cart_prefix, cart_app(services))
    root.router.add_event_handler("shutdown", state.close)
    root.router.add_event_handler("shutdown", services.close)
    prefix = settings.pacifica.archive_prefix
    root.add_middleware(
        BodyLimit, max_bytes=settings.limits.max_body_bytes, streamed_puts=(prefix,)
    )
    return AccessLog(root)


def main() -> None:
    settings = get_settings()
    logs.setup(settings, "pacifica")
    if not settings.pacifica.port:
        sys.exit("pacifica.port is 0: set NEARLINE_PACIFICA__PORT to serve Pacifica's surfaces")
    uvicorn.run(
        pacifica_app(settings),
        host=bind_host(settings),
        port=settings.pacifica.port,
        access_log=False,
        log_config=None,
        log_level=settings.log.level.lower(),
    )


if __name__ == "__main__":
    main()
