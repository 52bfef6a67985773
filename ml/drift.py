"""Population stability index (PSI) per feature and per score, against the training reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

PSI_FLOOR = 1e-4  # share given to an empty bin so the log stays finite
SCORE_COLUMNS = ["fit_score", "intent_score", "combined_score"]


def reference_distribution(values: pl.Series, kind: str, bins: int = 10) -> dict[str, Any]:
    """Bins and shares of one column in the training data (stored in model metadata)."""
    if kind == "categorical":
        counts = values.cast(pl.String).fill_null("unknown").value_counts()
        total = max(int(counts["count"].sum()), 1)
        col = counts.columns[0]
        return {
            "kind": "categorical",
            "shares": {
                str(k): c / total for k, c in zip(counts[col].to_list(), counts["count"].to_list(), strict=True)
            },
        }
    x = values.cast(pl.Float64).drop_nulls().to_numpy()
    x = x[~np.isnan(x)]
    if x.size == 0:
        return {"kind": "numeric", "edges": [], "shares": [1.0]}
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]))
    shares = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1) / x.size
    return {"kind": "numeric", "edges": edges.tolist(), "shares": shares.tolist()}


def psi(reference: dict[str, Any], values: pl.Series) -> float:
    """PSI of `values` against a reference from `reference_distribution` (0 = identical)."""
    if reference["kind"] == "categorical":
        counts = values.cast(pl.String).fill_null("unknown").value_counts()
        total = max(int(counts["count"].sum()), 1)
        col = counts.columns[0]
        actual = {str(k): c / total for k, c in zip(counts[col].to_list(), counts["count"].to_list(), strict=True)}
        keys = set(reference["shares"]) | set(actual)
        exp = np.array([reference["shares"].get(k, 0.0) for k in keys])
        act = np.array([actual.get(k, 0.0) for k in keys])
    else:
        x = values.cast(pl.Float64).drop_nulls().to_numpy()
        x = x[~np.isnan(x)]
        exp = np.asarray(reference["shares"], dtype=float)
        if x.size == 0:
            return 0.0
        act = np.bincount(np.searchsorted(np.asarray(reference["edges"]), x, side="right"), minlength=len(exp)) / x.size
    exp, act = np.maximum(exp, PSI_FLOOR), np.maximum(act, PSI_FLOOR)
    return float(np.sum((act - exp) * np.log(act / exp)))


def build_reference(features: pl.DataFrame, scores: pl.DataFrame, schema: dict[str, str]) -> dict[str, Any]:
    """Reference distributions of every scored feature and of the three scores."""
    ref = {
        name: reference_distribution(features[name], kind) for name, kind in schema.items() if name in features.columns
    }
    ref.update({c: reference_distribution(scores[c], "numeric") for c in SCORE_COLUMNS if c in scores.columns})
    return ref


def drift_report(
    reference: dict[str, Any], frame: pl.DataFrame, warn: float = 0.1, block: float = 0.25
) -> pl.DataFrame:
    """PSI per column present in both: `column`, `psi`, `status` (ok / warn / block), sorted worst first."""
    rows = []
    for name, ref in reference.items():
        if name in frame.columns:
            value = psi(ref, frame[name])
            status = "block" if value > block else "warn" if value > warn else "ok"
            rows.append({"column": name, "psi": round(value, 5), "status": status})
    return pl.DataFrame(rows, schema={"column": pl.String, "psi": pl.Float64, "status": pl.String}).sort(
        "psi", descending=True
    )


def drift_verdict(report: pl.DataFrame | None, rows: int, drift_config: dict[str, Any]) -> tuple[str, str]:
    """Overall verdict of a drift report: ("ok" | "warn" | "block" | "too_few_rows", one-line explanation).

    Below `min_rows` scored leads PSI is mostly sampling noise (a sparse feature on 400 leads easily reads
    0.1-0.3 with nothing changed), so the verdict is "too_few_rows" and the check passes, PSI still reported.
    """
    if report is None or report.is_empty():
        return "ok", "no training reference for this model (nothing to compare)"
    worst = report.row(0, named=True)
    blocked = report.filter(pl.col("status") == "block")["column"].to_list()
    warned = report.filter(pl.col("status") == "warn")["column"].to_list()
    min_rows = int(drift_config.get("min_rows", 0))
    if rows < min_rows:
        return (
            "too_few_rows",
            f"only {rows} leads scored (< {min_rows}): PSI not judged; worst {worst['column']} {worst['psi']:.3f}",
        )
    if blocked:
        return (
            "block",
            f"PSI > {drift_config['block_psi']} on {', '.join(blocked)} (worst {worst['column']} {worst['psi']:.3f})",
        )
    if warned:
        return (
            "warn",
            f"PSI > {drift_config['warn_psi']} on {', '.join(warned)} (worst {worst['column']} {worst['psi']:.3f})",
        )
    return "ok", f"max PSI {worst['psi']:.3f} ({worst['column']})"
