"""The CRM clients' one retry rule (tenacity): separate budgets for errors and rate limits, the CRM's wait honoured."""

from __future__ import annotations

import random

import pytest

from reverse_etl.crm.base import CrmError
from reverse_etl.crm.throttle import RetryLater, call_with_retries

FAST = {"base_s": 0.001, "cap_s": 0.02, "rng": random.Random(1)}


def _script(*steps):
    """An attempt that raises or returns the next step each time it is called."""
    calls = []

    def attempt():
        step = steps[len(calls)]
        calls.append(step)
        if isinstance(step, Exception):
            raise step
        return step

    return attempt, calls


def test_errors_are_retried_up_to_their_budget_then_named():
    attempt, calls = _script(*[RetryLater("HTTP 503")] * 5)
    pauses = []
    with pytest.raises(CrmError, match="gave up after 3 attempts: HTTP 503") as raised:
        call_with_retries(attempt, max_errors=3, on_pause=lambda r, s: pauses.append(s), **FAST)
    assert raised.value.retryable and len(calls) == 3 and len(pauses) == 2


def test_rate_limits_have_their_own_budget_and_the_crm_wait_is_kept():
    limited = RetryLater("rate limited", rate_limited=True, retry_after="10")
    attempt, calls = _script(limited, limited, RetryLater("HTTP 502"), "done")
    pauses = []
    result = call_with_retries(
        attempt, max_errors=2, max_rate_limited=2, on_pause=lambda r, s: pauses.append((r.rate_limited, s)), **FAST
    )
    assert result == "done" and len(calls) == 4
    # Retry-After (10 s) asked for more than the cap allows: the cap is waited, never less than backoff.
    assert [limited_pause for limited_pause, _ in pauses] == [True, True, False]
    assert all(seconds == FAST["cap_s"] for rate_limited, seconds in pauses if rate_limited)


def test_other_errors_are_not_retried():
    attempt, calls = _script(CrmError("refused", 400))
    with pytest.raises(CrmError, match="refused"):
        call_with_retries(attempt, max_errors=5, **FAST)
    assert len(calls) == 1
