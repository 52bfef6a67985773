"""Reason codes in words with the numbers behind them, from exact per-feature contributions (vectorized)."""

from __future__ import annotations

import numpy as np
import polars as pl

MIN_ABS_CONTRIBUTION = 0.05  # log-odds; smaller effects are noise to a rep reading the reason

_KIND_WORDS = {
    "pricing_visit": "pricing page visited",
    "demo_request": "demo requested",
    "email_click": "email links clicked",
    "email_reply": "emails replied to",
    "email_open": "emails opened",
    "web_visit": "website pages viewed",
    "product_event": "product actions",
    "hiring_signal": "account hiring signals",
    "funding_signal": "account funding signals",
    "tool_install_signal": "account tool-install signals",
}


def _int(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Float64).round(0).cast(pl.Int64).cast(pl.String)


def reason_text_expr(feature: str, columns: list[str]) -> pl.Expr:
    """A polars expression rendering one feature's reason phrase from the feature row (not the contribution)."""
    if feature.startswith("decayed_"):
        kind = feature.removeprefix("decayed_")
        words = _KIND_WORDS.get(kind, kind.replace("_", " "))
        parts: list[pl.Expr | str] = [pl.lit(words + " ")]
        windows = [c for c in columns if c.startswith(f"count_{kind}_") and c.endswith("d")]
        windows.sort(key=lambda c: int(c.rsplit("_", 1)[1][:-1]))
        for i, c in enumerate(windows[:3]):
            days = c.rsplit("_", 1)[1][:-1]
            parts += [pl.lit(" / " if i else ""), _int(c), pl.lit(f"x in {days} days" if i == 0 else f"x in {days}")]
        if not windows:
            parts += [pl.lit("(decayed "), pl.col(feature).round(2).cast(pl.String), pl.lit(")")]
        return pl.concat_str(parts)
    if feature.startswith("count_"):
        kind, window = feature.removeprefix("count_").rsplit("_", 1)
        words = _KIND_WORDS.get(kind, kind.replace("_", " "))
        return pl.concat_str([pl.lit(words + " "), _int(feature), pl.lit(f"x in {window[:-1]} days")])
    if feature == "days_since_last_touch":
        return (
            pl.when(pl.col(feature) >= 365)
            .then(pl.lit("no engagement seen"))
            .otherwise(pl.concat_str([pl.lit("last engagement "), _int(feature), pl.lit(" days ago")]))
        )
    if feature == "employees":
        return (
            pl.when(pl.col(feature).is_null())
            .then(pl.lit("company size unknown"))
            .otherwise(pl.concat_str([_int(feature), pl.lit(" employees")]))
        )
    if feature == "icp_tech_matches":
        return pl.concat_str([_int(feature), pl.lit(" ICP technologies in the stack")])
    if feature == "icp_match":
        return pl.concat_str(
            [pl.lit("ICP match "), (pl.col(feature) * 100).round(0).cast(pl.Int64).cast(pl.String), pl.lit("%")]
        )
    label = {"role_category": "role", "seniority": "seniority", "industry": "industry", "country_code": "country"}
    return pl.concat_str(
        [
            pl.lit(label.get(feature, feature) + ": "),
            pl.col(feature).cast(pl.String).str.replace_all("_", " ").fill_null("unknown"),
        ]
    )


def top_reasons(contributions: np.ndarray, n_positive: int = 3, n_negative: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Column indices of the largest positive and most negative contributions per row (-1 where too small)."""
    n, f = contributions.shape
    k_pos, k_neg = min(n_positive, f), min(n_negative, f)
    pos = np.argsort(-contributions, axis=1, kind="stable")[:, :k_pos]
    neg = np.argsort(contributions, axis=1, kind="stable")[:, :k_neg]
    pos_val = np.take_along_axis(contributions, pos, axis=1)
    neg_val = np.take_along_axis(contributions, neg, axis=1)
    pos = np.where(pos_val >= MIN_ABS_CONTRIBUTION, pos, -1)
    neg = np.where(neg_val <= -MIN_ABS_CONTRIBUTION, neg, -1)
    return pos, neg


def _is_activity_count(name: str) -> bool:
    return name.startswith(("decayed_", "count_")) or name == "icp_tech_matches"


def reason_eligible(features: pl.DataFrame, names: list[str], contributions: np.ndarray) -> np.ndarray:
    """Contributions with "absence as a plus" zeroed: a count of 0 is never quoted as a positive reason.

    (A model may learn that leads with no tracked web visits convert slightly more than leads with old ones;
    that is real in the numbers but "pricing page visited 0x" is no reason a rep can act on. The full
    contributions are still logged.)
    """
    out = contributions.copy()
    for j, name in enumerate(names):
        if _is_activity_count(name):
            zero = features[name].cast(pl.Float64).fill_null(0.0).to_numpy() == 0
            out[:, j] = np.where(zero & (out[:, j] > 0), 0.0, out[:, j])
    return out


def render_reasons(
    features: pl.DataFrame, names: list[str], contributions: np.ndarray, prefixes: list[str] | None = None
) -> pl.Series:
    """One reason string per row: top positive then top negative factors, each with its contribution.

    `names[j]` is the feature behind `contributions[:, j]`; `prefixes[j]` (e.g. "fit" / "intent") is shown
    before it. Example: "+0.84 intent: pricing page visited 3x in 7 days, 5x in 30 days; -0.31 fit: role: hr".
    """
    n = features.height
    if n == 0:
        return pl.Series("reasons", [], dtype=pl.String)
    pos, neg = top_reasons(reason_eligible(features, names, contributions))
    slots = np.concatenate([pos, neg], axis=1)
    slot_no = np.tile(np.arange(slots.shape[1]), n)
    rows = np.repeat(np.arange(n), slots.shape[1])
    feat = slots.ravel()
    keep = feat >= 0
    rows, slot_no, feat = rows[keep], slot_no[keep], feat[keep]
    values = contributions[rows, feat]
    columns = features.columns
    # One text column per slot, filled at the rows that slot quotes (reasons keep their slot order).
    slot_texts = [pl.repeat(None, n, dtype=pl.String, eager=True).alias(f"slot_{s}") for s in range(slots.shape[1])]
    for j in np.unique(feat):
        m = feat == j
        idx, slot_j = rows[m], slot_no[m]
        text_expr = reason_text_expr(names[j], columns)
        prefix = f"{prefixes[j]}: " if prefixes else ""
        # Only the columns the phrase reads, gathered at the quoting rows (not every feature of those rows).
        quoted = features.select(list(dict.fromkeys(text_expr.meta.root_names())))[idx]
        reason = (
            pl.DataFrame({"_contribution": values[m]})
            .hstack(quoted)
            .select(
                pl.concat_str(
                    [
                        pl.when(pl.col("_contribution") >= 0).then(pl.lit("+")).otherwise(pl.lit("")),
                        pl.col("_contribution").round(2).cast(pl.String),
                        pl.lit(" " + prefix),
                        text_expr,
                    ]
                )
            )
            .to_series()
        )
        for s in np.unique(slot_j):
            at = slot_j == s
            slot_texts[s] = slot_texts[s].scatter(idx[at], reason.filter(pl.Series(at)))
    return (
        pl.DataFrame(slot_texts)
        .select(pl.concat_str(pl.all(), separator="; ", ignore_nulls=True).fill_null("").alias("reasons"))
        .to_series()
    )
