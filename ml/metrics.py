"""Model quality figures: AUC, top-decile lift, expected calibration error, tier capture."""

from __future__ import annotations

import numpy as np


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC; NaN when only one class is present."""
    # Imported here: the rest of the module (tables, Markdown) is read where scikit-learn is not loaded.
    from sklearn.metrics import roc_auc_score

    y = np.asarray(labels).astype(int)
    if y.min() == y.max():
        return float("nan")
    return float(roc_auc_score(y, np.asarray(scores, dtype=float)))


def top_decile_lift(labels: np.ndarray, scores: np.ndarray) -> float:
    """Conversion rate in the top 10% by score divided by the overall rate (ties broken by order)."""
    y = np.asarray(labels).astype(float)
    if y.sum() == 0:
        return float("nan")
    k = max(1, int(round(len(y) * 0.1)))
    top = np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:k]
    return float(y[top].mean() / y.mean())


def calibration_table(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> list[dict]:
    """Per probability bin: mean predicted, observed rate, count (for the calibration plot)."""
    y = np.asarray(labels).astype(float)
    p = np.asarray(probs, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        m = which == b
        if m.any():
            rows.append(
                {
                    "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                    "predicted": float(p[m].mean()),
                    "observed": float(y[m].mean()),
                    "count": int(m.sum()),
                }
            )
    return rows


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> float:
    """Count-weighted mean |predicted - observed| over probability bins."""
    rows = calibration_table(labels, probs, bins)
    n = sum(r["count"] for r in rows)
    return float(sum(r["count"] * abs(r["predicted"] - r["observed"]) for r in rows) / max(n, 1))


def calibration_slope(labels: np.ndarray, probs: np.ndarray) -> float:
    """Slope of a logistic regression of the outcome on the predicted log-odds: 1 is perfectly calibrated in
    spread, below 1 means over-confident predictions, above 1 under-confident ones."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(labels).astype(int)
    if y.min() == y.max():
        return float("nan")
    p = np.clip(np.asarray(probs, dtype=float), 1e-9, 1 - 1e-9)
    logits = np.log(p / (1 - p)).reshape(-1, 1)
    return float(LogisticRegression(C=1e6, max_iter=1000).fit(logits, y).coef_[0, 0])


def tier_table(labels: np.ndarray, tiers: np.ndarray) -> list[dict]:
    """Per tier: leads, share of leads, conversions, conversion rate, share of all conversions."""
    y = np.asarray(labels).astype(float)
    t = np.asarray(tiers)
    total, conv = len(y), max(y.sum(), 1e-12)
    out = []
    for tier in (1, 2, 3):
        m = t == tier
        out.append(
            {
                "tier": tier,
                "leads": int(m.sum()),
                "lead_share": float(m.mean()) if total else 0.0,
                "conversions": int(y[m].sum()),
                "conversion_rate": float(y[m].mean()) if m.any() else 0.0,
                "conversion_capture": float(y[m].sum() / conv),
            }
        )
    return out


def tier_summary(labels: np.ndarray, tiers: np.ndarray) -> dict[str, float]:
    """RevOps figures: tier 1+2 share of leads, their share of conversions, tier 1 rate / tier 3 rate."""
    rows = {r["tier"]: r for r in tier_table(labels, tiers)}
    t3 = rows[3]["conversion_rate"]
    return {
        "tier12_share": rows[1]["lead_share"] + rows[2]["lead_share"],
        "tier12_capture": rows[1]["conversion_capture"] + rows[2]["conversion_capture"],
        "tier1_vs_tier3": rows[1]["conversion_rate"] / t3 if t3 > 0 else float("inf"),
    }


def score_metrics(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """AUC, top-decile lift and calibration error of one score."""
    return {
        "auc": auc(labels, probs),
        "top_decile_lift": top_decile_lift(labels, probs),
        "calibration_error": expected_calibration_error(labels, probs),
    }


def calibration_markdown(rows: list[dict]) -> str:
    """The calibration plot as a Markdown table with bars (predicted vs observed per probability bin)."""
    lines = ["| bin | leads | predicted | observed | observed (bar) |", "|---|---|---|---|---|"]
    for r in rows:
        bar = "#" * int(round(40 * r["observed"]))
        lines.append(f"| {r['bin']} | {r['count']} | {r['predicted']:.3f} | {r['observed']:.3f} | `{bar}` |")
    return "\n".join(lines)


def tier_markdown(rows: list[dict]) -> str:
    """The tier table (leads, share, conversion rate, share of conversions) as Markdown."""
    lines = ["| tier | leads | lead share | conversion rate | share of conversions |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['tier']} | {r['leads']} | {r['lead_share']:.1%} | {r['conversion_rate']:.1%} | "
            f"{r['conversion_capture']:.1%} |"
        )
    return "\n".join(lines)
