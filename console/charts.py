"""Vega-Lite specs (built with Altair) for the scores and pipeline pages.

The data in each spec is already aggregated in DuckDB (tens of rows); the browser draws it with the vendored
vega / vega-lite / vega-embed files under console/static/vendor (nothing from a CDN).
"""

from __future__ import annotations

import json
from typing import Any

import altair as alt
import pandas as pd

WIDTH = 380
HEIGHT = 220
TIER_COLORS = alt.Scale(domain=["Tier 1", "Tier 2", "Tier 3"], range=["#1b7f5f", "#e0a526", "#9aa5b1"])


def _spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The Vega-Lite spec as plain JSON values (the page embeds it with Jinja's HTML-safe `tojson`)."""
    return json.loads(json.dumps(chart.properties(width=WIDTH, height=HEIGHT).to_dict(), default=str))


def _tier_label(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["tier_label"] = "Tier " + frame["tier"].astype(str)
    return frame


def tier_distribution(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not rows:
        return None
    frame = _tier_label(pd.DataFrame(rows))
    chart = (
        alt.Chart(frame, title="Leads per tier")
        .mark_bar()
        .encode(
            x=alt.X("tier_label:N", title=None),
            y=alt.Y("leads:Q", title="leads"),
            color=alt.Color("tier_label:N", scale=TIER_COLORS, legend=None),
            tooltip=["tier_label", "leads"],
        )
    )
    return _spec(chart)


def score_histogram(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not rows:
        return None
    frame = _tier_label(pd.DataFrame(rows))
    chart = (
        alt.Chart(frame, title="Combined score (leads per 5 points)")
        .mark_bar()
        .encode(
            x=alt.X("band_start:Q", bin=alt.Bin(step=5, extent=[0, 100]), title="combined score"),
            y=alt.Y("sum(leads):Q", title="leads"),
            color=alt.Color("tier_label:N", scale=TIER_COLORS, title="tier"),
            tooltip=["band_start", "tier_label", "leads"],
        )
    )
    return _spec(chart)


def conversion_by_decile(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    chart = (
        alt.Chart(frame, title="Conversion by score decile")
        .mark_bar(color="#2a6fb0")
        .encode(
            x=alt.X("decile:O", title="score decile (10 = best)"),
            y=alt.Y("conversion_rate:Q", title="converted", axis=alt.Axis(format="%")),
            tooltip=["decile", "leads", alt.Tooltip("conversion_rate:Q", format=".1%")],
        )
    )
    return _spec(chart)


def conversion_by_tier(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not rows:
        return None
    frame = _tier_label(pd.DataFrame(rows))
    chart = (
        alt.Chart(frame, title="Conversion by tier")
        .mark_bar()
        .encode(
            x=alt.X("tier_label:N", title=None),
            y=alt.Y("conversion_rate:Q", title="converted", axis=alt.Axis(format="%")),
            color=alt.Color("tier_label:N", scale=TIER_COLORS, legend=None),
            tooltip=["tier_label", "leads", alt.Tooltip("conversion_rate:Q", format=".1%")],
        )
    )
    return _spec(chart)


def score_history(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not rows:
        return None
    frame = pd.DataFrame(rows)[["scored_at", "fit_score", "intent_score", "combined_score"]]
    frame = frame.melt("scored_at", var_name="score", value_name="value")
    chart = (
        alt.Chart(frame, title="Scores over runs")
        .mark_line(point=True)
        .encode(
            x=alt.X("scored_at:T", title="scored at"),
            y=alt.Y("value:Q", title="score", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color("score:N", title=None),
            tooltip=["scored_at:T", "score", "value"],
        )
    )
    return _spec(chart)


def bars(rows: list[dict[str, Any]], x: str, y: str, title: str, x_type: str = "N") -> dict[str, Any] | None:
    """A plain bar chart of `y` by `x` (pipeline figures)."""
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    chart = (
        alt.Chart(frame, title=title)
        .mark_bar(color="#2a6fb0")
        .encode(x=alt.X(f"{x}:{x_type}", title=None, sort=None), y=alt.Y(f"{y}:Q"), tooltip=[x, y])
    )
    return _spec(chart)
