"""Population stability index (PSI) per feature and per score, against the training reference.

PSI of two samples of the *same* distribution is not zero: with few rows it is mostly sampling noise (roughly
`(bins - 1) * (1/n_reference + 1/n_scored)`, more for sparse bins and the empty-bin floor). So each PSI is judged
against a noise limit: the `noise_quantile` of the PSI between the reference distribution and samples of the
scored run's size drawn from that same distribution (a seeded parametric bootstrap, exact for this estimator and
floor, also where the chi-square approximation fails on sparse bins). A column warns / blocks only when its PSI
is above the threshold *and* above its noise limit.

Leads are clustered in accounts: an account-level column (a signal, the industry) has one value per account, so
400 leads at 40 accounts carry 40 observations, not 400. With a `cluster_column`, a column that is constant
within every cluster is judged at its effective size (rows / design effect, the design effect being rows per
cluster), on both the scored and the reference side.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from .features import group_codes

PSI_FLOOR = 1e-4  # share given to an empty bin so the log stays finite
SCORE_COLUMNS = ["fit_score", "intent_score", "combined_score"]
NOISE_DRAWS = 400  # bootstrap samples per column for the noise limit
NOISE_SEED = 20_261_122
_LEAD_LEVEL_PROBE_ROWS = 20_000


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
            "rows": int(counts["count"].sum()),
        }
    x = values.cast(pl.Float64).drop_nulls().to_numpy()
    x = x[~np.isnan(x)]
    if x.size == 0:
        return {"kind": "numeric", "edges": [], "shares": [1.0], "rows": 0}
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]))
    shares = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1) / x.size
    return {"kind": "numeric", "edges": edges.tolist(), "shares": shares.tolist(), "rows": int(x.size)}


def _compared_shares(reference: dict[str, Any], values: pl.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """(reference shares, actual shares, actual non-null rows) over the reference's bins / the union of levels."""
    if reference["kind"] == "categorical":
        counts = values.cast(pl.String).fill_null("unknown").value_counts()
        total = max(int(counts["count"].sum()), 1)
        col = counts.columns[0]
        actual = {str(k): c / total for k, c in zip(counts[col].to_list(), counts["count"].to_list(), strict=True)}
        keys = sorted(set(reference["shares"]) | set(actual))
        exp = np.array([reference["shares"].get(k, 0.0) for k in keys])
        act = np.array([actual.get(k, 0.0) for k in keys])
        return exp, act, int(counts["count"].sum())
    x = values.cast(pl.Float64).drop_nulls().to_numpy()
    x = x[~np.isnan(x)]
    exp = np.asarray(reference["shares"], dtype=float)
    if x.size == 0:
        return exp, exp.copy(), 0
    act = np.bincount(np.searchsorted(np.asarray(reference["edges"]), x, side="right"), minlength=len(exp)) / x.size
    return exp, act, int(x.size)


def _psi_of_shares(exp: np.ndarray, act: np.ndarray) -> np.ndarray:
    """PSI along the last axis (broadcasts: one reference against many samples)."""
    exp, act = np.maximum(exp, PSI_FLOOR), np.maximum(act, PSI_FLOOR)
    return np.sum((act - exp) * np.log(act / exp), axis=-1)


def psi(reference: dict[str, Any], values: pl.Series) -> float:
    """PSI of `values` against a reference from `reference_distribution` (0 = identical)."""
    exp, act, rows = _compared_shares(reference, values)
    return 0.0 if rows == 0 else float(_psi_of_shares(exp, act))


def psi_noise_limit(
    shares: np.ndarray,
    rows: int,
    reference_rows: int | None,
    quantile: float = 0.99,
    draws: int = NOISE_DRAWS,
    seed: int = NOISE_SEED,
) -> float:
    """PSI that sampling noise alone stays below with probability `quantile`.

    Draws `draws` samples of `rows` (and, when `reference_rows` is known, a reference of `reference_rows`) from
    the reference distribution `shares` and returns the quantile of their PSI. Closed-form cross-check: the mean
    is about `(bins - 1) * (1/rows + 1/reference_rows)` when every bin is well filled.
    """
    p = np.asarray(shares, dtype=float)
    p = p / p.sum() if p.sum() > 0 else np.full(p.size, 1.0 / max(p.size, 1))
    if rows <= 0 or p.size < 2:
        return 0.0
    rng = np.random.default_rng(seed)
    actual = rng.multinomial(rows, p, size=draws) / rows
    expected = rng.multinomial(reference_rows, p, size=draws) / reference_rows if reference_rows else p
    return float(np.quantile(_psi_of_shares(expected, actual), quantile))


def build_reference(features: pl.DataFrame, scores: pl.DataFrame, schema: dict[str, str]) -> dict[str, Any]:
    """Reference distributions of every scored feature and of the three scores."""
    ref = {
        name: reference_distribution(features[name], kind) for name, kind in schema.items() if name in features.columns
    }
    ref.update({c: reference_distribution(scores[c], "numeric") for c in SCORE_COLUMNS if c in scores.columns})
    return ref


def _comparable_values(values: pl.Series) -> np.ndarray | None:
    """A column's non-null values as numbers numpy compares as polars' `unique` does (None: another type)."""
    if values.dtype in (pl.String, pl.Categorical):
        return values.cast(pl.Categorical).to_physical().to_numpy()
    if values.dtype.is_numeric() or values.dtype == pl.Boolean:
        return values.to_numpy()
    return None


def design_effect(frame: pl.DataFrame, column: str, cluster_column: str | None) -> float:
    """Rows per cluster when `column` is constant within every cluster (an account-level value), else 1.0."""
    if not cluster_column or cluster_column not in frame.columns:
        return 1.0
    known = frame.select(column, cluster_column).filter(
        pl.col(column).is_not_null() & pl.col(cluster_column).is_not_null()
    )
    if known.is_empty():
        return 1.0
    values = _comparable_values(known[column])
    if values is not None:
        codes, _ = group_codes(known[cluster_column])
        # One pass in numpy: any value of each cluster stands for it, and a cluster holding two values has a row
        # unequal to it, whichever value stood. Equality is polars' (`unique`): -0.0 is 0.0, NaN is NaN.
        stand = np.empty(int(codes.max()) + 1, dtype=values.dtype)
        stand[codes] = values
        same = values == stand[codes]
        if values.dtype.kind == "f":
            same |= np.isnan(values) & np.isnan(stand[codes])
        if not same.all():
            return 1.0
        return known.height / int(np.count_nonzero(np.bincount(codes)))
    # Two values in one cluster among the first rows settle it (a lead-level column, most of them) without a
    # pass over every row; only a column still constant there is checked on all of them.
    probe = known.head(_LEAD_LEVEL_PROBE_ROWS)
    if probe.unique().height > probe[cluster_column].n_unique():
        return 1.0
    clusters = known[cluster_column].n_unique()
    if known.unique().height > clusters:  # some cluster holds two values: a lead-level column
        return 1.0
    return known.height / clusters


def drift_report(
    reference: dict[str, Any],
    frame: pl.DataFrame,
    warn: float = 0.1,
    block: float = 0.25,
    noise_quantile: float | None = 0.99,
    cluster_column: str | None = None,
) -> pl.DataFrame:
    """PSI per column present in both: `column`, `psi`, `noise_psi`, `rows`, `effective_rows`, `status`,
    sorted worst first.

    `noise_psi` is the PSI sampling noise alone reaches with probability `noise_quantile` for the column's
    effective size (`psi_noise_limit`, `design_effect` with `cluster_column`; None turns the noise judgement off).
    `status` is `block` when PSI > `block` and PSI > `noise_psi`, `warn` when PSI > `warn` and PSI > `noise_psi`,
    else `ok`.
    """
    rows = []
    if cluster_column and cluster_column in frame.columns and frame.schema[cluster_column] == pl.String:
        # Each cluster as a number, once (its category code; nulls stay null): `design_effect` groups by it.
        frame = frame.with_columns(pl.col(cluster_column).cast(pl.Categorical).to_physical())
    for name, ref in reference.items():
        if name not in frame.columns or name == cluster_column:
            continue
        exp, act, n = _compared_shares(ref, frame[name])
        value = 0.0 if n == 0 else float(_psi_of_shares(exp, act))
        noise, effective = 0.0, n
        if noise_quantile is not None and n:
            deff = design_effect(frame, name, cluster_column)
            effective = max(1, round(n / deff))
            ref_rows = ref.get("rows")
            ref_effective = max(1, round(ref_rows / deff)) if ref_rows else None
            # A level unseen in training has reference share 0: it stays a bin of its own (floored) in the noise
            # draws too, so the limit is computed over the same bins as the PSI.
            noise = psi_noise_limit(exp, effective, ref_effective, noise_quantile)
        beyond_noise = value > noise
        status = "block" if value > block and beyond_noise else "warn" if value > warn and beyond_noise else "ok"
        rows.append(
            {
                "column": name,
                "psi": round(value, 5),
                "noise_psi": round(noise, 5),
                "rows": n,
                "effective_rows": effective,
                "status": status,
            }
        )
    schema = {
        "column": pl.String,
        "psi": pl.Float64,
        "noise_psi": pl.Float64,
        "rows": pl.Int64,
        "effective_rows": pl.Int64,
        "status": pl.String,
    }
    return pl.DataFrame(rows, schema=schema).sort("psi", descending=True)


def drift_verdict(report: pl.DataFrame | None, rows: int, drift_config: dict[str, Any]) -> tuple[str, str]:
    """Overall verdict of a drift report: ("ok" | "warn" | "block", one-line explanation).

    The report already judged each column against the thresholds and its sampling-noise limit; the verdict
    is the worst column status. A PSI above a threshold but within noise is named in the message, not judged.
    """
    if report is None or report.is_empty():
        return "ok", "no training reference for this model (nothing to compare)"
    worst = report.row(0, named=True)
    blocked = report.filter(pl.col("status") == "block")["column"].to_list()
    warned = report.filter(pl.col("status") == "warn")["column"].to_list()
    worst_text = f"(worst {worst['column']} {worst['psi']:.3f})"
    if blocked:
        return "block", f"PSI > {drift_config['block_psi']} beyond sampling noise on {', '.join(blocked)} {worst_text}"
    if warned:
        return "warn", f"PSI > {drift_config['warn_psi']} beyond sampling noise on {', '.join(warned)} {worst_text}"
    if "noise_psi" in report.columns:
        noisy = report.filter(pl.col("psi") > float(drift_config["warn_psi"]))
        if not noisy.is_empty():
            top = noisy.row(0, named=True)
            return (
                "ok",
                f"max PSI {worst['psi']:.3f} ({worst['column']}) is within sampling noise for {rows} leads "
                f"({top['column']}: noise limit {top['noise_psi']:.3f})",
            )
    return "ok", f"max PSI {worst['psi']:.3f} ({worst['column']})"
