"""What the routes share: settings, the catalog reader, the authenticator, the token
endpoint's rate limits and the request log (made on first use, so a read-only API never
connects to Kafka)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from api.auth import Authenticator
from api.auth.throttle import TokenThrottle
from nearline.requests import RequestLog
from nearline.settings import Settings


@dataclass
class Services:
    settings: Settings
    engine: Engine
    authenticator: Authenticator
    make_request_log: Callable[[], RequestLog]
    token_throttle: TokenThrottle
    _request_log: RequestLog | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def request_log(self) -> RequestLog:
        with self._lock:
            if self._request_log is None:
                self._request_log = self.make_request_log()
            return self._request_log

    def close(self) -> None:
        with self._lock:
            if self._request_log is not None:
                self._request_log.close()
                self._request_log = None
        self.engine.dispose()
