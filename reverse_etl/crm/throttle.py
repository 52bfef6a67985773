"""Client-side rate limiting and retries shared by the CRM clients."""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception

T = TypeVar("T")


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


class RetryLater(Exception):
    """One attempt of a CRM call worth repeating: why, whether the CRM's rate limit said so, and the least
    wait it asked for (`Retry-After`, or the floor of a rate-limit window)."""

    def __init__(
        self, problem: str, *, rate_limited: bool = False, retry_after: str | None = None, floor_s: float = 0.0
    ) -> None:
        super().__init__(problem)
        self.problem, self.rate_limited, self.retry_after, self.floor_s = problem, rate_limited, retry_after, floor_s


def call_with_retries(
    attempt: Callable[[], T],
    *,
    max_errors: int,
    max_rate_limited: int = 0,
    base_s: float,
    cap_s: float,
    rng: random.Random | None = None,
    on_pause: Callable[[RetryLater, float], None] | None = None,
) -> T:
    """`attempt()`'s result, calling it again while it raises `RetryLater` (tenacity): errors (5xx, timeouts,
    lost connections) up to `max_errors` attempts, rate limits up to `max_rate_limited` more, each after
    `backoff_delay` (at least what the CRM asked for, at most `cap_s`). `on_pause(reason, seconds)` hears of
    each wait. Once a budget is spent: `CrmError(retryable=True)` naming the last problem."""
    from reverse_etl.crm.base import CrmError  # the connectors' shared types import this module

    counts = {"errors": 0, "rate_limited": 0}

    def counted(error: BaseException) -> bool:
        if not isinstance(error, RetryLater):
            return False
        counts["rate_limited" if error.rate_limited else "errors"] += 1
        return True

    def wait(state: RetryCallState) -> float:
        reason = state.outcome.exception()
        step = min(counts["rate_limited"] - 1, 5) if reason.rate_limited else counts["errors"] - 1
        delay = max(backoff_delay(step, base_s, cap_s, rng), reason.floor_s)
        if reason.retry_after and reason.retry_after.replace(".", "", 1).isdigit():
            delay = max(delay, min(float(reason.retry_after), cap_s))
        return delay

    def stop(_state: RetryCallState) -> bool:
        return counts["errors"] >= max_errors or counts["rate_limited"] > max_rate_limited

    def before_sleep(state: RetryCallState) -> None:
        if on_pause:
            on_pause(state.outcome.exception(), state.upcoming_sleep)

    retrying = Retrying(retry=retry_if_exception(counted), wait=wait, stop=stop, before_sleep=before_sleep)
    try:
        return retrying(attempt)
    except RetryError as gave_up:
        last = gave_up.last_attempt.exception()
        tries = counts["errors"] + counts["rate_limited"]
        raise CrmError(f"gave up after {tries} attempts: {last.problem}", retryable=True) from last
