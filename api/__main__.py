"""``python -m api``: serve the API on ``127.0.0.1:{settings.ports.api}``."""

from __future__ import annotations

import logging
import sys

import uvicorn

from api.app import create_app
from nearline.settings import get_settings


def main() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    settings = get_settings()
    # uvicorn's own access log would write query strings (object-store keys) verbatim;
    # AccessLog writes a scrubbed one instead.
    uvicorn.run(
        create_app(settings),
        host="127.0.0.1",
        port=settings.ports.api,
        access_log=False,
        log_level="info",
    )


if __name__ == "__main__":
    main()
