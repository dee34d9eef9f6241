"""``python -m api``: serve the API on ``{settings.api.host}:{settings.ports.api}``."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from api.cache_usage import CacheCollector
from nearline.observe import logs
from nearline.observe.metrics import REGISTRY, LagCollector
from nearline.settings import get_settings


def main() -> None:
    settings = get_settings()
    logs.setup(settings, "api")
    app = create_app(settings)
    # The API's /metrics also shows every consumer group's lag and the cache use.
    REGISTRY.register(LagCollector(settings))
    REGISTRY.register(CacheCollector(settings, app_engine(app)))
    # uvicorn's own access log would write query strings (object-store keys) verbatim;
    # AccessLog writes a scrubbed one instead.
    uvicorn.run(
        app,
        host=settings.api.host,
        port=settings.ports.api,
        access_log=False,
        log_config=None,  # keep nearline's handler (format, transaction ids, redaction)
        log_level=settings.log.level.lower(),
    )


def app_engine(app: object) -> object:
    """The catalog engine of the app ``create_app`` made (under the access log)."""
    return app.app.state.services.engine  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
