"""The workflows page's "Does it work?" section in words: per workflow and outcome, treated vs held out, the lift in
percentage points with its 95% interval and a plain verdict, from the publication's `workflow_lift` table (the
warehouse mart `marts.fct_workflow_lift`, docs/outcomes.md "Lift"); and the done metrics per week.

Pure functions over rows already read (no I/O), so the words are tested without a console.
"""

from __future__ import annotations

from typing import Any

# The outcome each lift counts, as the verdict names it ("raises bookings").
OUTCOME_NOUNS = {"meeting_booked": "bookings", "renewed": "renewals"}

# Verdict kinds: the CSS pill and the chart colour of each.
KIND_PILL = {"raises": "ok", "lowers": "bad", "no effect": "", "not measured": "warn"}

NO_TABLE = (
    "Lift is not measured yet: the latest publication has no lift table (the outcome mart "
    "marts.fct_workflow_lift had not been built when it was published). It appears after the next refresh that "
    "builds the outcome marts."
)
NO_ROWS = "Lift is not measured yet: no workflow has actions that were sent or held out with an outcome to compare."

# Weekly done metrics counted per 1,000 units rather than as a share (docs/outcomes.md "Metrics").
PER_THOUSAND = {"meetings_per_1000_leads"}


def verdict(row: dict[str, Any]) -> tuple[str, str]:
    """(kind, words) for one lift row: a sample-size note means "not measured yet", whatever the point estimate;
    else an interval excluding zero raises (or lowers) the outcome, and one including zero has no measurable
    effect."""
    note = row.get("sample_size_note")
    if note or row.get("lift") is None:
        return "not measured", f"not measured yet: {note or 'no held-out or treated actions'}"
    noun = OUTCOME_NOUNS.get(row.get("outcome") or "", row.get("outcome") or "the outcome")
    if row.get("is_significant"):
        return ("raises", f"raises {noun}") if row["lift"] > 0 else ("lowers", f"lowers {noun}")
    return "no effect", "no measurable effect"


def points(share: float | None, signed: bool = True) -> str:
    """A difference of shares in percentage points, one decimal (`+2.3`); a dash when there is none."""
    if share is None:
        return "—"
    value = round(share * 100, 1) + 0.0  # no "-0.0"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def lift_text(row: dict[str, Any]) -> str:
    """`+2.3 pts (95% CI -0.4 to +5.0)`, or a dash when no lift was computed."""
    if row.get("lift") is None:
        return "—"
    interval = ""
    if row.get("lift_ci_low") is not None and row.get("lift_ci_high") is not None:
        interval = f" (95% CI {points(row['lift_ci_low'])} to {points(row['lift_ci_high'])})"
    return f"{points(row['lift'])} pts{interval}"


def label(row: dict[str, Any]) -> str:
    """A workflow and the outcome its lift counts: `sla · meeting_booked`."""
    return f"{row['workflow']} · {row['outcome']}"


def lift_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The page's rows: each mart row with its label, verdict and lift in words."""
    out = []
    for row in rows:
        kind, words = verdict(row)
        out.append(
            {
                **row,
                "label": label(row),
                "verdict_kind": kind,
                "verdict": words,
                "pill": KIND_PILL[kind],
                "lift_text": lift_text(row),
            }
        )
    return out


def chart_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One point per workflow and outcome with a lift, in points, for the lift chart."""
    return [
        {
            "label": r["label"],
            "lift_points": round(r["lift"] * 100, 2),
            "ci_low_points": round(r["lift_ci_low"] * 100, 2),
            "ci_high_points": round(r["lift_ci_high"] * 100, 2),
            "verdict": r["verdict"],
            "verdict_kind": r["verdict_kind"],
            "treated": f"{r['treated_outcomes']}/{r['treated_n']}",
            "held_out": f"{r['held_out_outcomes']}/{r['held_out_n']}",
        }
        for r in rows
        if r.get("lift") is not None and r.get("lift_ci_low") is not None and r.get("lift_ci_high") is not None
    ]


def metric_value(metric: str, numerator: int, denominator: int) -> str:
    """A weekly done metric in words: `12.5% (3/24)`, or `41.7 per 1,000 (1/24)` for per-thousand metrics."""
    if not denominator:
        return "—"
    rate = numerator / denominator
    shown = f"{rate * 1000:,.1f} per 1,000" if metric in PER_THOUSAND else f"{rate:.1%}"
    return f"{shown} ({numerator:,}/{denominator:,})"


def weekly_table(rows: list[dict[str, Any]], weeks: int = 4) -> dict[str, Any]:
    """The done metrics of the latest `weeks` weeks: one row per workflow and metric, one cell per week with the
    median hours of time metrics. A metric split into segments (lead tiers, sequence ids) is shown by its segment
    `all` (every segment together, as the mart rolls it up); without one, its segments are summed. `rows` are the
    publication's weekly rows (`workflow_outcomes_weekly`)."""
    starts = sorted({r["period_start"] for r in rows}, reverse=True)[:weeks][::-1]
    rolled_up = {(r["workflow"], r["metric"], r["period_start"]) for r in rows if r.get("segment") == "all"}
    counts: dict[tuple[str, str], dict[Any, list[int]]] = {}
    medians: dict[tuple[str, str, Any], list[float | None]] = {}
    for r in rows:
        if r["period_start"] not in starts:
            continue
        if (r["workflow"], r["metric"], r["period_start"]) in rolled_up and r.get("segment") != "all":
            continue  # counted in the segment `all`: summing it too would count every unit twice
        cell = counts.setdefault((r["workflow"], r["metric"]), {}).setdefault(r["period_start"], [0, 0])
        cell[0] += r["numerator"]
        cell[1] += r["denominator"]
        medians.setdefault((r["workflow"], r["metric"], r["period_start"]), []).append(r.get("median_hours"))

    def shown(workflow: str, metric: str, week: Any, numerator: int, denominator: int) -> str:
        text = metric_value(metric, numerator, denominator)
        hours = medians[(workflow, metric, week)]
        # A median of several segments' medians is not their median: shown for one segment only.
        if len(hours) == 1 and hours[0] is not None:
            text += f", median {hours[0]:,.1f} h"
        return text

    return {
        "weeks": starts,
        "rows": [
            {
                "workflow": workflow,
                "metric": metric,
                "cells": [shown(workflow, metric, week, *cells[week]) if week in cells else "—" for week in starts],
            }
            for (workflow, metric), cells in sorted(counts.items())
        ],
    }
