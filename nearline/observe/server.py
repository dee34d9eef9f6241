"""The small HTTP listener of a processor process: ``/metrics`` for Prometheus,
``/healthz`` (the process answers) and ``/readyz`` (it has joined its consumer group and
is not stopping). Off when ``metrics.port`` is 0; each instance on one host needs its own
port, which is why it is a setting (``NEARLINE_METRICS__PORT``)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from nearline.observe.metrics import REGISTRY
from nearline.settings import Settings

log = logging.getLogger(__name__)


class Health:
    """What ``/readyz`` reports: set by the process as it starts and stops."""

    def __init__(self) -> None:
        self.ready = False
        self.reason = "starting"

    def set(self, ready: bool, reason: str) -> None:
        self.ready, self.reason = ready, reason


HEALTH = Health()


def _handler(health: Health) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY))
            elif path == "/healthz":
                self._json(200, {"status": "ok"})
            elif path == "/readyz":
                self._json(
                    200 if health.ready else 503, {"ready": health.ready, "reason": health.reason}
                )
            else:
                self._json(404, {"detail": "not found"})

        def _json(self, status: int, body: dict) -> None:
            self._send(status, "application/json", json.dumps(body).encode())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # scrapes every few seconds would drown the process's own log

    return Handler


def serve(settings: Settings, health: Health = HEALTH) -> Callable[[], None] | None:
    """Start the listener in a daemon thread; return its stop function (None when off)."""
    if not settings.metrics.port:
        return None
    server = ThreadingHTTPServer((settings.metrics.host, settings.metrics.port), _handler(health))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    log.info("metrics and health on http://%s:%d/", settings.metrics.host, settings.metrics.port)

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop
