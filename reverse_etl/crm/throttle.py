"""Client-side rate limiting and retry delays shared by the CRM clients."""

from __future__ import annotations

import random
import threading
import time
from collections import deque


class RollingThrottle:
    """Never more than `limit` requests in any rolling `window_s`, with sends spaced evenly.

    Even spacing (window/limit apart) keeps the client at the limit's long-run rate without bursting, and
    a small slack on the window absorbs clock and network jitter between client and server.
    The limit can be lowered at run time when the server announces a different one (rate-limit headers).
    """

    def __init__(self, limit: int, window_s: float, slack_s: float = 0.05) -> None:
        self._lock = threading.Lock()
        self._sent: deque[float] = deque()
        self._next_slot = 0.0
        self.slack_s = slack_s
        self.set_limit(limit, window_s)
        self.max_in_window = 0

    def set_limit(self, limit: int, window_s: float) -> None:
        """Change the limit (e.g. from `X-HubSpot-RateLimit-Max` / `-Interval-Milliseconds`)."""
        self.limit = max(1, int(limit))
        self.window_s = float(window_s)
        self.spacing_s = self.window_s / self.limit

    def acquire(self) -> float:
        """Block until a request may be sent; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                horizon = self.window_s + self.slack_s
                while self._sent and self._sent[0] <= now - horizon:
                    self._sent.popleft()
                delay = max(self._next_slot - now, 0.0)
                if len(self._sent) >= self.limit:
                    delay = max(delay, self._sent[0] + horizon - now)
                if delay <= 0:
                    self._sent.append(now)
                    self._next_slot = now + self.spacing_s
                    self.max_in_window = max(self.max_in_window, len(self._sent))
                    return waited
            time.sleep(delay)
            waited += delay

    def penalize(self, seconds: float) -> None:
        """Hold every sender back for a while (after a 429: the server's window is fuller than ours)."""
        with self._lock:
            self._next_slot = max(self._next_slot, time.monotonic() + seconds)


def backoff_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: between half and all of min(cap, base * 2**attempt)."""
    ceiling = min(cap_s, base_s * (2**attempt))
    return ceiling * (0.5 + 0.5 * (rng or random).random())
