"""Vega-Lite specs (built with Altair) for the scores, lead, pipeline and workflows pages.

Each chart's spec is built once with Altair over a named data source, `table`; a page fills it with rows already
aggregated in DuckDB (tens of rows) through the spec's top-level `datasets`. Building specs once keeps Altair's
per-chart cost (~15 ms) out of every request. The browser draws them with the vendored vega / vega-lite /
vega-embed files under console/static/vendor (nothing from a CDN).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import altair as alt

WIDTH = 380
HEIGHT = 220
DATA = alt.Data(name="table")
TIER_COLORS = alt.Scale(domain=["Tier 1", "Tier 2", "Tier 3"], range=["#1b7f5f", "#e0a526", "#9aa5b1"])


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _filled(template: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The spec with its `table` data source filled (None when there is nothing to draw)."""
    if not rows:
        return None
    values = [{k: _plain(v) for k, v in row.items()} for row in rows]
    return {**template, "datasets": {"table": values}}


def _template(build: Callable[[], alt.TopLevelMixin]) -> dict[str, Any]:
    return json.loads(json.dumps(build().properties(width=WIDTH, height=HEIGHT).to_dict(validate=False)))


def _with_tier_label(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**row, "tier_label": f"Tier {row['tier']}"} for row in rows]


@cache
def _tiers() -> dict[str, Any]:
    return _template(
        lambda: (
            alt.Chart(DATA, title="Leads per tier")
            .mark_bar()
            .encode(
                x=alt.X("tier_label:N", title=None),
                y=alt.Y("leads:Q", title="leads"),
                color=alt.Color("tier_label:N", scale=TIER_COLORS, legend=None),
                tooltip=["tier_label:N", "leads:Q"],
            )
        )
    )


@cache
def _histogram() -> dict[str, Any]:
    return _template(
        lambda: (
            alt.Chart(DATA, title="Combined score (leads per 5 points)")
            .mark_bar()
            .encode(
                x=alt.X("band_start:Q", bin=alt.Bin(step=5, extent=[0, 100]), title="combined score"),
                y=alt.Y("sum(leads):Q", title="leads"),
                color=alt.Color("tier_label:N", scale=TIER_COLORS, title="tier"),
                tooltip=["band_start:Q", "tier_label:N", "leads:Q"],
            )
        )
    )


@cache
def _deciles() -> dict[str, Any]:
    return _template(
        lambda: (
            alt.Chart(DATA, title="Conversion by score decile")
            .mark_bar(color="#2a6fb0")
            .encode(
                x=alt.X("decile:O", title="score decile (10 = best)"),
                y=alt.Y("conversion_rate:Q", title="converted", axis=alt.Axis(format="%")),
                tooltip=["decile:O", "leads:Q", alt.Tooltip("conversion_rate:Q", format=".1%")],
            )
        )
    )


@cache
def _conversion_by_tier() -> dict[str, Any]:
    return _template(
        lambda: (
            alt.Chart(DATA, title="Conversion by tier")
            .mark_bar()
            .encode(
                x=alt.X("tier_label:N", title=None),
                y=alt.Y("conversion_rate:Q", title="converted", axis=alt.Axis(format="%")),
                color=alt.Color("tier_label:N", scale=TIER_COLORS, legend=None),
                tooltip=["tier_label:N", "leads:Q", alt.Tooltip("conversion_rate:Q", format=".1%")],
            )
        )
    )


@cache
def _history() -> dict[str, Any]:
    return _template(
        lambda: (
            alt.Chart(DATA, title="Scores over runs")
            .transform_fold(["fit_score", "intent_score", "combined_score"], as_=["score", "value"])
            .mark_line(point=True)
            .encode(
                x=alt.X("scored_at:T", title="scored at"),
                y=alt.Y("value:Q", title="score", scale=alt.Scale(domain=[0, 100])),
                color=alt.Color("score:N", title=None),
                tooltip=["scored_at:T", "score:N", "value:Q"],
            )
        )
    )


@cache
def _bars(x: str, y: str, title: str, x_type: str) -> dict[str, Any]:
    return _template(
        lambda: (
            alt.Chart(DATA, title=title)
            .mark_bar(color="#2a6fb0")
            .encode(
                x=alt.X(f"{x}:{x_type}", title=None, sort=None),
                y=alt.Y(f"{y}:Q"),
                tooltip=[f"{x}:{x_type}", f"{y}:Q"],
            )
        )
    )


@cache
def _lift() -> dict[str, Any]:
    kinds = alt.Scale(
        domain=["raises", "lowers", "no effect", "not measured"], range=["#1b7f5f", "#b3541e", "#5b6675", "#e0a526"]
    )
    y = alt.Y("label:N", title=None, sort=None)
    color = alt.Color("verdict_kind:N", scale=kinds, title="verdict")
    tooltip = [
        "label:N",
        alt.Tooltip("lift_points:Q", title="lift (points)"),
        alt.Tooltip("ci_low_points:Q", title="95% CI low"),
        alt.Tooltip("ci_high_points:Q", title="95% CI high"),
        "treated:N",
        "held_out:N",
        "verdict:N",
    ]
    interval = (
        alt.Chart(DATA)
        .mark_rule(strokeWidth=2)
        .encode(
            y=y,
            x=alt.X("ci_low_points:Q", title="lift: treated minus held-out rate, points (95% interval)"),
            x2="ci_high_points:Q",
            color=color,
            tooltip=tooltip,
        )
    )
    point = (
        alt.Chart(DATA)
        .mark_point(filled=True, size=80)
        .encode(y=y, x="lift_points:Q", color=color, tooltip=tooltip)
    )
    zero = alt.Chart(alt.Data(values=[{"zero": 0}])).mark_rule(color="#1d2430", strokeDash=[4, 3]).encode(x="zero:Q")
    return _template(lambda: alt.layer(interval, point, zero, title="Lift vs holdout per workflow"))


def tier_distribution(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return _filled(_tiers(), _with_tier_label(rows))


def score_histogram(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return _filled(_histogram(), _with_tier_label(rows))


def conversion_by_decile(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return _filled(_deciles(), rows)


def conversion_by_tier(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return _filled(_conversion_by_tier(), _with_tier_label(rows))


def score_history(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    keep = ("scored_at", "fit_score", "intent_score", "combined_score")
    return _filled(_history(), [{k: r[k] for k in keep} for r in rows])


def bars(rows: list[dict[str, Any]], x: str, y: str, title: str, x_type: str = "N") -> dict[str, Any] | None:
    """A plain bar chart of `y` by `x` (pipeline figures)."""
    return _filled(_bars(x, y, title, x_type), rows)


def workflow_lift(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Each workflow's lift as a point with its 95% interval bar and a zero line (rows: `console.lift.chart_rows`)."""
    return _filled(_lift(), rows)
