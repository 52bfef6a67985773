"""The operational clock: what "now" is for the planner, the decision queue, the sync engine and the sandbox CRM.

In production it is the wall clock. A simulation (the closed-loop evaluation, `make eval-loop`) lives in the sample
world's time instead, which runs days ahead in minutes: `ACTIONHOUSE_CLOCK_OFFSET_SECONDS` is added to the wall clock,
so proposals, decisions, expiries, daily caps, sends and the CRM's own timestamps all fall in the world's time and
durations stay real. An offset, not a fixed moment, so every process that reads it agrees on the time.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

CLOCK_OFFSET_ENV = "ACTIONHOUSE_CLOCK_OFFSET_SECONDS"


def clock_offset_seconds() -> float:
    """The simulated clock's offset from the wall clock in seconds (0 unless `ACTIONHOUSE_CLOCK_OFFSET_SECONDS`)."""
    raw = os.environ.get(CLOCK_OFFSET_ENV, "").strip()
    if not raw:
        return 0.0
    try:
        return float(raw)
    except ValueError:
        raise ValueError(
            f"{CLOCK_OFFSET_ENV} must be a number of seconds (e.g. -2592000 for 30 days ago), not {raw!r}"
        ) from None


def utc_now() -> datetime:
    """The current operational time, zone-aware UTC (the wall clock plus any simulation offset)."""
    return datetime.now(UTC) + timedelta(seconds=clock_offset_seconds())


def epoch_now() -> float:
    """The current operational time in seconds since the epoch (what `time.time()` is without a simulation)."""
    return time.time() + clock_offset_seconds()
