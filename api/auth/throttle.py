"""Rate limits of the token endpoint: password guessing is slowed per user (however many
addresses try) and per address (however many users it tries), in each API process (D113).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from nearline.settings import LocalAuthSettings

MAX_KEYS = 100_000
"""Keys remembered at most: a flood of new names or addresses cannot grow memory without
bound (the oldest windows go first)."""


class SlidingWindow:
    """At most ``limit`` events per key within any ``window_s`` seconds."""

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._times: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Count one event for ``key``: 0 if it is allowed, else the seconds until one
        would be (and the event is not counted)."""
        now = self.clock()
        with self._lock:
            times = self._times.pop(key, None) or deque()
            while times and times[0] <= now - self.window_s:
                times.popleft()
            wait = 0.0
            if len(times) >= self.limit:
                wait = times[0] + self.window_s - now
            else:
                times.append(now)
            self._times[key] = times  # most recently used last
            while len(self._times) > MAX_KEYS:
                del self._times[next(iter(self._times))]
            return wait


class TokenThrottle:
    """The token endpoint's limits, from ``auth.local``."""

    def __init__(self, settings: LocalAuthSettings, clock: Callable[[], float] = time.monotonic):
        window = settings.token_window_s
        self.per_user = SlidingWindow(settings.token_requests_per_user, window, clock)
        self.per_address = SlidingWindow(settings.token_requests_per_address, window, clock)

    def wait_s(self, address: str | None, user: str | None) -> int:
        """0 if a token request from ``address`` (naming ``user`` for a password grant) may
        go on, else the whole seconds to wait (Retry-After)."""
        wait = self.per_address.take(f"address:{address}") if address else 0.0
        if not wait and user:
            wait = self.per_user.take(f"user:{user}")
        return math.ceil(wait) if wait else 0
