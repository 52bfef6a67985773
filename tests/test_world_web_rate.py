"""The world's next hours go on at the web-visit rate its history ended with (else the scores' features drift)."""

from __future__ import annotations

import numpy as np
import polars as pl

from sample_world import activity as A
from sample_world import entities as E
from sample_world.util import BASE_NOW, DAY, HISTORY_DAYS, HOUR


def _page_views_per_band(frames: list[pl.DataFrame], people: pl.DataFrame, since: int) -> dict[str, int]:
    """Identified people's page views at or after `since`, by intent band (below / above the median)."""
    pages = frames[0].filter(pl.col("userId").is_not_null())
    pages = pages.with_columns(t=pl.col("timestamp").str.to_datetime(time_zone="UTC").dt.epoch("s"))
    median = people["intent"].median()
    band = people.select(userId="email", band=pl.when(pl.col("intent") > median).then(pl.lit("high")).otherwise(
        pl.lit("low")))
    counts = pages.filter(pl.col("t") >= since).join(band, on="userId").group_by("band").len()
    return dict(zip(counts["band"].to_list(), counts["len"].to_list(), strict=True))


def test_next_hours_web_visits_continue_the_historys_end_rate():
    rng = np.random.default_rng(2026)
    accounts = E.make_accounts(rng, 6_000, 1)
    people = E.make_people(rng, accounts, np.full(accounts.height, 6), 1).with_columns(identified=pl.lit(True))
    # Converting people research in bursts before conversion; this test is about the steady rate.
    people = people.with_columns(converted=pl.lit(False), converted_at=pl.lit(None, dtype=pl.Int64))
    history_start = BASE_NOW - HISTORY_DAYS * DAY
    history, _ = A.web_events(rng, people, history_start, BASE_NOW, 1.0, 0)
    last_days = _page_views_per_band(history, people, BASE_NOW - 3 * DAY)

    scale = A.web_hour_scale(people, HISTORY_DAYS * DAY)
    next_days: dict[str, int] = {}
    for hour in range(3 * 24):
        t0 = BASE_NOW + hour * HOUR
        frames, _ = A.web_events(rng, people, t0, t0 + HOUR, scale, 0)
        for band, n in _page_views_per_band(frames, people, t0).items():
            next_days[band] = next_days.get(band, 0) + n

    for band in ("low", "high"):
        # Page-view counts are Poisson-like: the two rates are equal when their difference is within 4 standard
        # deviations (a false alarm once in ~16,000 runs), i.e. within ~10% for the high band's ~3,500 views and
        # ~19% for the low band's ~900. Next hours drawn for each hour's active people were 3x (low) to 7x off.
        assert last_days[band] > 500, last_days
        z = (next_days[band] - last_days[band]) / np.sqrt(next_days[band] + last_days[band])
        assert abs(z) < 4, (band, next_days, last_days)
