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


def _first_by_rank(values: np.ndarray, k: int, largest: bool) -> np.ndarray:
    """Column indices of the `k` largest (or smallest) values per row, in that order, ties to the lower column: the
    first `k` columns of a stable sort (descending or ascending), found by `k` arg-max passes instead of sorting
    every row. Values must be finite (a chosen column is set to an infinity so the next pass skips it)."""
    work = values.copy()
    chosen = np.empty((values.shape[0], k), dtype=np.intp)
    rows = np.arange(values.shape[0])
    for rank in range(k):
        column = np.argmax(work, axis=1) if largest else np.argmin(work, axis=1)
        chosen[:, rank] = column
        work[rows, column] = -np.inf if largest else np.inf
    return chosen


def top_reasons(contributions: np.ndarray, n_positive: int = 3, n_negative: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Column indices of the largest positive and most negative contributions per row (-1 where too small)."""
    n, f = contributions.shape
    k_pos, k_neg = min(n_positive, f), min(n_negative, f)
    if np.isfinite(contributions).all():
        # A few arg-max passes pick what the stable sorts below would put first, without sorting every row.
        pos = _first_by_rank(contributions, k_pos, largest=True)
        neg = _first_by_rank(contributions, k_neg, largest=False)
    else:  # an infinity or NaN: the sorts' order (NaN last) is the rule
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
    counted = [j for j, name in enumerate(names) if _is_activity_count(name)]
    if counted:
        # Every count's "is zero" in one select (one column each, in `counted` order).
        zero = features.select(
            (pl.col(names[j]).cast(pl.Float64).fill_null(0.0) == 0).alias(f"_zero_{k}") for k, j in enumerate(counted)
        ).to_numpy()
        quoted = out[:, counted]
        out[:, counted] = np.where(zero & (quoted > 0), 0.0, quoted)
    return out


# Below this many rows a phrase is rendered for every row: finding the distinct ones would cost more.
_DISTINCT_RENDER_MIN_ROWS = 5_000


def _render_distinct(inputs: pl.DataFrame, expr: pl.Expr) -> pl.Series:
    """`inputs.select(expr)` as a Series, evaluated once per distinct row of `inputs` and gathered back.

    A phrase reads a binned contribution (a few values per feature) and one to three small counts or a
    category, so a million quoting rows hold a few thousand distinct inputs. Polars' equality takes -0.0 for 0.0,
    which print differently: each float column's sign bit is part of the key. The distinct rows and the rows of
    each come from one grouping (not a `unique` and a join back: one hashing of the rows instead of two)."""
    if inputs.height < _DISTINCT_RENDER_MIN_ROWS:
        return inputs.select(expr).to_series()
    keys = inputs.with_columns(
        pl.Series(f"_sign_{name}", np.signbit(inputs[name].cast(pl.Float64).to_numpy()))
        for name, dtype in inputs.schema.items()
        if dtype.is_float()
    )
    groups = keys.with_row_index("_row").group_by(keys.columns).agg(pl.col("_row"))
    if 2 * groups.height > keys.height:  # mostly distinct: nothing to share
        return inputs.select(expr).to_series()
    members = groups["_row"]
    # Each row's group: the groups' rows laid end to end, then every row told its place in that layout.
    grouped_rows = members.explode().to_numpy()
    group_of_row = np.empty(keys.height, dtype=np.int64)
    group_of_row[grouped_rows] = np.repeat(np.arange(groups.height), members.list.len().to_numpy())
    return groups.select(expr).to_series().gather(group_of_row)


def _small_codes(codes: np.ndarray, bound: int) -> np.ndarray:
    """`codes` (integers in `[0, bound)`) in the narrowest unsigned type that holds them: numpy's stable sort is a
    radix sort for 8- and 16-bit integers (~10x faster than its merge sort on a million feature indices), and a
    stable sort of the same keys is the same permutation whatever their type."""
    for dtype in (np.uint8, np.uint16):
        if bound <= np.iinfo(dtype).max + 1:
            return codes.astype(dtype)
    return codes


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
    slot_count = slots.shape[1]
    quoted_at = np.flatnonzero(slots.ravel() >= 0)  # (row, slot) cells that quote a feature, row by row
    if quoted_at.size == 0:  # no contribution large enough anywhere
        return pl.Series("reasons", [""] * n, dtype=pl.String)
    rows, feat = quoted_at // slot_count, slots.ravel()[quoted_at]
    values = contributions[rows, feat]
    columns = features.columns
    # The quoting cells grouped by feature (one pass), so each phrase is rendered once for all of its rows.
    by_feature = np.argsort(_small_codes(feat, len(names)), kind="stable")
    bounds = np.flatnonzero(np.diff(feat[by_feature])) + 1
    pieces = []
    for group in np.split(by_feature, bounds):
        j = int(feat[group[0]])
        text_expr = reason_text_expr(names[j], columns)
        prefix = f"{prefixes[j]}: " if prefixes else ""
        # Only the columns the phrase reads, gathered at the quoting rows (not every feature of those rows).
        quoted = features.select(list(dict.fromkeys(text_expr.meta.root_names())))[rows[group]]
        piece = pl.concat_str(
            [
                pl.when(pl.col("_contribution") >= 0).then(pl.lit("+")).otherwise(pl.lit("")),
                pl.col("_contribution").round(2).cast(pl.String),
                pl.lit(" " + prefix),
                text_expr,
            ]
        )
        pieces.append(_render_distinct(pl.DataFrame({"_contribution": values[group]}).hstack(quoted), piece))
    texts = pl.concat(pieces, rechunk=True)
    # Where each cell's phrase landed in `texts`; a cell quoting nothing gathers a null (dropped by the join).
    position = np.full(n * slot_count, -1, dtype=np.int64)
    position[quoted_at[by_feature]] = np.arange(by_feature.size)
    position = position.reshape(n, slot_count)
    slot_texts = [
        texts.gather(pl.Series(position[:, s]).set(pl.Series(position[:, s] < 0), None)).alias(f"slot_{s}")
        for s in range(slot_count)
    ]
    return (
        pl.DataFrame(slot_texts)
        .select(pl.concat_str(pl.all(), separator="; ", ignore_nulls=True).fill_null("").alias("reasons"))
        .to_series()
    )
