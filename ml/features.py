"""Point-in-time lead features on plain polars DataFrames — one code path for training and scoring.

Inputs (any source; `ml.warehouse` builds them from the staging layer):
- `contacts`: one row per lead — `contact_id` plus fit attributes `role_category`, `seniority`, `country_code`,
  `industry`, `employees`, `technologies` (list of lowercased names), `company_domain`.
- `events`: engagement — `contact_id`, `kind` (one of `EVENT_KINDS`), `occurred_at` (datetime or epoch seconds).
- `signals`: account triggers — `domain`, `kind` (one of `SIGNAL_KINDS`), `occurred_at`.

Every event or signal at or after `as_of` is ignored, so a training row built "as of" a date never sees what
happened later; the result carries `feature_cutoff` so `assert_point_in_time` can prove it against labels.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

EVENT_KINDS = [
    "pricing_visit",
    "demo_request",
    "email_click",
    "email_reply",
    "email_open",
    "web_visit",
    "product_event",
]
SIGNAL_KINDS = ["hiring_signal", "funding_signal", "tool_install_signal"]
ALL_KINDS = EVENT_KINDS + SIGNAL_KINDS
DAY_SECONDS = 86_400.0
NO_TOUCH_DAYS = 365.0  # "days since last engagement" for a lead never seen engaging

FIT_CATEGORICAL = ["industry", "country_code", "role_category", "seniority"]
FIT_NUMERIC = ["employees", "icp_tech_matches", "icp_match"]
FIT_FEATURES = FIT_CATEGORICAL + FIT_NUMERIC


class LeakageError(ValueError):
    """A feature was computed from data dated at or after the date its label starts."""


def count_columns(windows: list[int]) -> list[str]:
    """Names of the windowed count features, e.g. `count_pricing_visit_7d`."""
    return [f"count_{kind}_{w}d" for kind in ALL_KINDS for w in windows]


def intent_features(config: dict[str, Any]) -> list[str]:
    """Intent feature names for a config: decayed engagement per kind, windowed counts, recency."""
    windows = list(config["features"]["count_windows_days"])
    return [f"decayed_{k}" for k in ALL_KINDS] + count_columns(windows) + ["days_since_last_touch"]


def feature_schema(config: dict[str, Any]) -> dict[str, str]:
    """Feature name -> kind (`categorical` / `numeric`) — the schema written into model metadata."""
    schema = {c: "categorical" for c in FIT_CATEGORICAL}
    schema.update({c: "numeric" for c in FIT_NUMERIC})
    schema.update({c: "numeric" for c in intent_features(config)})
    return schema


def to_epoch_seconds(value: datetime | float | int) -> float:
    """A datetime (naive = UTC) or epoch seconds, as epoch seconds."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    return float(value)


def _epoch_expr(col: str, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.Datetime):
        return pl.col(col).dt.epoch("ms").cast(pl.Float64) / 1000.0
    return pl.col(col).cast(pl.Float64)


def group_codes(keys: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """(`code` per row, the key of each code): the groups of `keys` numbered 0..n-1 (null is a group), where a
    key may have no row.

    Non-negative integer keys no larger than a few times the row count (row positions, say) are their own codes
    (every integer up to the largest is a key); any other keys are grouped by polars (every key has a row). Codes
    are equal exactly where the keys are (polars' equality): the engagement sums per lead and the drift check's
    accounts (`ml.drift.design_effect`) are both numbered here."""
    if keys.dtype.is_integer() and keys.null_count() == 0 and len(keys):
        low, high = keys.min(), keys.max()
        if low >= 0 and high < 4 * len(keys) + 1024:
            return keys.to_numpy().astype(np.int64, copy=False), pl.int_range(high + 1, eager=True).cast(keys.dtype)
    groups = keys.to_frame().with_row_index("_row").group_by(keys.name).agg(pl.col("_row"))
    code = np.empty(len(keys), dtype=np.int64)
    code[groups["_row"].explode().to_numpy()] = np.repeat(
        np.arange(groups.height, dtype=np.int64), groups["_row"].list.len().to_numpy()
    )
    return code, groups[keys.name]


def _engagement_aggregates(
    frame: pl.DataFrame, key: str, kinds: list[str], as_of_s: float, half_lives: dict[str, float], windows: list[int]
) -> pl.DataFrame:
    """Per key: decayed sum and windowed counts per kind, last-touch epoch; only rows strictly before as_of.

    Each row's decay weight is one polars expression; the sums and counts per (key, kind) are numpy `bincount`s
    over the rows in frame order and the last touch a `maximum.at`. Polars' group-by with one conditional sum per
    kind and window (29 of them) cost several times this at a million leads and added a group's partial sums in
    the order its threads finished; `bincount` adds them in row order, so the same rows in the same order give
    the same bits every time, whatever the key's type.
    """
    if frame.is_empty():
        return pl.DataFrame(schema={key: frame.schema.get(key, pl.Int64)})
    ts = _epoch_expr("occurred_at", frame.schema["occurred_at"])
    kind_code = pl.col("kind").replace_strict({k: i for i, k in enumerate(kinds)}, default=None, return_dtype=pl.UInt16)
    # Each row's half-life gathered from one value per kind by its code (a `replace_strict` of the codes hashed every
    # row: ~0.3 s more at 11M events); the same values, so the same weights.
    hl = pl.lit(pl.Series([float(half_lives[k]) for k in kinds], dtype=pl.Float64)).gather(pl.col("_kind"))
    rows = frame.select(pl.col(key), kind_code.alias("_kind"), ts.alias("_t"))
    # Rows of an unknown kind or at/after the cutoff are left out; the filter's copy of every column only when
    # there is such a row (almost never, in the mart: its cutoff is the latest event).
    kept = rows.select((pl.col("_kind").is_not_null() & (pl.col("_t") < as_of_s)).fill_null(False)).to_series()
    if not kept.all():
        rows = rows.filter(kept)
    rows = rows.with_columns(((as_of_s - pl.col("_t")) / DAY_SECONDS).alias("_age")).with_columns(
        (-math.log(2) * pl.col("_age") / hl).exp().alias("_w")
    )
    code, keys = group_codes(rows[key])
    n, n_kinds = len(keys), len(kinds)
    # Slots kind-major (kind * n + key): each kind's sums are one contiguous row of the result, a column as it is.
    # A slot's rows are added in row order whatever its number, so the sums are the same bits either way.
    # (Computed in place: one array of the rows' size, not three.)
    slot = rows["_kind"].to_numpy().astype(np.int64)
    slot *= n
    slot += code
    decayed = np.bincount(slot, weights=rows["_w"].to_numpy(), minlength=n * n_kinds).reshape(n_kinds, n)
    last_touch = np.full(n, -np.inf)
    np.maximum.at(last_touch, code, rows["_t"].to_numpy())
    has_rows = np.bincount(code, minlength=n) > 0
    age = rows["_age"].to_numpy()
    # The rows' arrays are let go as soon as they are used, not kept while the result is built (~0.3 GB at 11M).
    del rows, code
    # Only rows younger than the widest window count in any window: the others are left out once, not per window.
    if windows:
        recent = age < max(windows)
        slot, age = slot[recent], age[recent]
    counts = {
        w: np.bincount(slot[age < w], minlength=n * n_kinds).reshape(n_kinds, n).astype(np.float64) for w in windows
    }
    del slot, age
    columns: dict[str, Any] = {key: keys.alias(key)}
    for i, k in enumerate(kinds):
        columns[f"decayed_{k}"] = decayed[i]
        for w in windows:
            columns[f"count_{k}_{w}d"] = counts[w][i]
    columns["_last_touch"] = last_touch
    # One row per key with an event, as a group-by gives.
    return pl.DataFrame(columns).filter(pl.Series(has_rows))


def icp_components(contacts: pl.DataFrame, config: dict[str, Any]) -> pl.DataFrame:
    """ICP match per contact, component by component (each 0..1), from the versioned ICP config."""
    icp = config["icp"]
    emp = icp["employee_range"]
    industries = {str(k).lower(): float(v) for k, v in icp["industries"].items()}
    techs = [t.lower() for t in icp["technologies"]]
    # The distinct technology names that are ICP technologies once lowercased (a few dozen names in ~5M list entries
    # at a million leads): each entry is then looked up as it is, not lowercased first.
    names = contacts["technologies"].explode().drop_nulls().unique().cast(pl.String)
    icp_names = names.filter(names.str.to_lowercase().is_in(techs))
    employees = pl.col("employees").cast(pl.Float64)
    techs_col = pl.col("technologies").fill_null(pl.lit([], dtype=pl.List(pl.String)))
    return contacts.select(
        pl.col("contact_id"),
        pl.col("industry")
        .str.to_lowercase()
        .replace_strict(industries, default=0.0, return_dtype=pl.Float64)
        .fill_null(0.0)
        .alias("icp_industry"),
        pl.when(employees.is_between(emp["sweet_spot_min"], emp["sweet_spot_max"]))
        .then(1.0)
        .when(employees.is_between(emp["min"], emp["max"]))
        .then(0.6)
        .otherwise(0.0)
        .alias("icp_size"),
        pl.when(pl.col("country_code").is_in(icp["countries"]))
        .then(1.0)
        .otherwise(float(icp["other_country_weight"]))
        .alias("icp_geo"),
        pl.when(pl.col("role_category").is_in(icp["buyer_roles"])).then(1.0).otherwise(0.2).alias("icp_role"),
        pl.when(pl.col("seniority").is_in(icp["senior_levels"]))
        .then(1.0)
        .when(pl.col("seniority") == "manager")
        .then(0.6)
        .otherwise(0.2)
        .alias("icp_seniority"),
        techs_col.list.eval(pl.element().is_in(icp_names.implode()))
        .list.sum()
        .cast(pl.Float64)
        .alias("icp_tech_matches"),
    )


def build_features(
    contacts: pl.DataFrame,
    events: pl.DataFrame,
    signals: pl.DataFrame | None,
    as_of: datetime | float,
    config: dict[str, Any],
) -> pl.DataFrame:
    """Fit and intent features per `contact_id` as of `as_of` (events at or after it are ignored).

    Returns one row per contact: `contact_id`, `feature_cutoff` (epoch seconds), `FIT_FEATURES`, then the
    intent features of `intent_features(config)`. The same frames give the same bits; the same events in another
    row order may change the last bits of the decayed sums (relative ~1e-15: they are added in row order).
    """
    for col in ("contact_id", "role_category", "seniority", "country_code", "industry", "employees"):
        if col not in contacts.columns:
            raise ValueError(f"contacts frame lacks column {col!r}")
    if "technologies" not in contacts.columns:
        contacts = contacts.with_columns(pl.lit(None, dtype=pl.List(pl.String)).alias("technologies"))
    if "company_domain" not in contacts.columns:
        contacts = contacts.with_columns(pl.lit(None, dtype=pl.String).alias("company_domain"))
    as_of_s = to_epoch_seconds(as_of)
    half_lives = {k: float(v) for k, v in config["features"]["half_life_days"].items()}
    missing = [k for k in ALL_KINDS if k not in half_lives]
    if missing:
        raise ValueError(f"config features.half_life_days lacks {', '.join(missing)}")
    windows = [int(w) for w in config["features"]["count_windows_days"]]

    icp = icp_components(contacts, config)
    weights = [1.5, 1.0, 0.7, 1.0, 1.0]  # industry, size, geo, role, seniority (tech added below)
    icp_match = (
        sum(
            w * pl.col(c)
            for w, c in zip(weights, ["icp_industry", "icp_size", "icp_geo", "icp_role", "icp_seniority"], strict=True)
        )
        + 0.8 * (pl.col("icp_tech_matches") / 2.0).clip(0.0, 1.0)
    ) / (sum(weights) + 0.8)
    fit = contacts.select(
        pl.col("contact_id"),
        pl.col("industry").str.to_lowercase().fill_null("unknown").alias("industry"),
        pl.col("country_code").fill_null("unknown").alias("country_code"),
        pl.col("role_category").fill_null("other").alias("role_category"),
        pl.col("seniority").fill_null("unknown").alias("seniority"),
        pl.col("employees").cast(pl.Float64).alias("employees"),
        pl.col("company_domain"),
    ).join(
        icp.select("contact_id", "icp_tech_matches", icp_match.alias("icp_match")),
        on="contact_id",
        how="left",
        maintain_order="left",
    )

    ev = _engagement_aggregates(events, "contact_id", EVENT_KINDS, as_of_s, half_lives, windows)
    out = fit.join(ev, on="contact_id", how="left", maintain_order="left")
    if signals is not None and not signals.is_empty():
        sg = _engagement_aggregates(
            signals.rename({"domain": "company_domain"}), "company_domain", SIGNAL_KINDS, as_of_s, half_lives, windows
        ).rename({"_last_touch": "_last_signal"})
        out = out.join(sg, on="company_domain", how="left", maintain_order="left")
    names = intent_features(config)
    for col in names:
        if col not in out.columns and col != "days_since_last_touch":
            out = out.with_columns(pl.lit(0.0).alias(col))
    last = pl.col("_last_touch") if "_last_touch" in out.columns else pl.lit(None, dtype=pl.Float64)
    out = out.with_columns(
        [pl.col(c).fill_null(0.0) for c in names if c != "days_since_last_touch"]
        + [
            ((as_of_s - last) / DAY_SECONDS)
            .fill_null(NO_TOUCH_DAYS)
            .clip(0.0, NO_TOUCH_DAYS)
            .alias("days_since_last_touch"),
            pl.lit(as_of_s).alias("feature_cutoff"),
        ]
    )
    return out.select(["contact_id", "feature_cutoff", *FIT_FEATURES, *names])


def assert_point_in_time(features: pl.DataFrame, labels: pl.DataFrame) -> None:
    """Raise `LeakageError` when any feature row was cut off after its label window starts.

    `features` carries `feature_cutoff` (from `build_features`), `labels` carries `label_start` (epoch
    seconds): the first moment whose outcome the label describes. Joined on `contact_id`.
    """
    joined = features.select("contact_id", "feature_cutoff").join(
        labels.select("contact_id", "label_start"), on="contact_id", how="inner"
    )
    late = joined.filter(pl.col("feature_cutoff") > pl.col("label_start"))
    if late.height:
        raise LeakageError(
            f"{late.height} feature row(s) were computed after their label date "
            f"(e.g. contact {late['contact_id'][0]}): training would see the future"
        )


def conversion_labels(
    contacts: pl.DataFrame, outcomes: pl.DataFrame, as_of: datetime | float, horizon_days: int
) -> pl.DataFrame:
    """Label per contact: 1 when an outcome (meeting or opportunity) starts in [as_of, as_of + horizon).

    `outcomes` holds `contact_id`, `occurred_at`. Contacts who converted before `as_of` are dropped (already
    in the pipeline, not a lead to score). Returns `contact_id`, `label`, `label_start`.
    """
    as_of_s = to_epoch_seconds(as_of)
    end_s = as_of_s + horizon_days * DAY_SECONDS
    if outcomes.is_empty():
        return contacts.select(
            "contact_id", pl.lit(0, dtype=pl.Int8).alias("label"), pl.lit(as_of_s).alias("label_start")
        )
    ts = _epoch_expr("occurred_at", outcomes.schema["occurred_at"])
    per = (
        outcomes.with_columns(ts.alias("_t"))
        .group_by("contact_id")
        .agg(
            (pl.col("_t") < as_of_s).any().alias("_before"),
            ((pl.col("_t") >= as_of_s) & (pl.col("_t") < end_s)).any().alias("_within"),
        )
    )
    return (
        contacts.select("contact_id")
        .join(per, on="contact_id", how="left", maintain_order="left")
        .filter(~pl.col("_before").fill_null(False))
        .select(
            "contact_id",
            pl.col("_within").fill_null(False).cast(pl.Int8).alias("label"),
            pl.lit(as_of_s).alias("label_start"),
        )
    )


def fit_labels(closed_deals: pl.DataFrame, as_of: datetime | float) -> pl.DataFrame:
    """Fit label per contact from won/lost history: 1 when the contact is associated with a deal closed won
    before `as_of`, 0 when every deal of the contact closed before `as_of` was lost.

    `closed_deals` holds `contact_id`, `won` (bool), `closed_at` (datetime or epoch seconds) — one row per
    contact and closed deal (`ml.warehouse.CLOSED_DEALS_SQL`). Contacts without a deal closed before `as_of` get
    no label (they are not in the fit training set); a deal closed at or after `as_of` is not known yet and is
    ignored. Returns `contact_id`, `label`, `label_start` (= as_of: the label is the history known then) and
    `label_known_at` (the latest close it rests on; `assert_labels_known` checks it against the features).
    """
    as_of_s = to_epoch_seconds(as_of)
    schema = {"contact_id": closed_deals.schema.get("contact_id", pl.Int64), "label": pl.Int8,
              "label_start": pl.Float64, "label_known_at": pl.Float64}
    if closed_deals.is_empty():
        return pl.DataFrame(schema=schema)
    ts = _epoch_expr("closed_at", closed_deals.schema["closed_at"])
    return (
        closed_deals.with_columns(ts.alias("_t"))
        .filter(pl.col("_t") < as_of_s)
        .group_by("contact_id")
        .agg(pl.col("won").any().cast(pl.Int8).alias("label"), pl.col("_t").max().alias("label_known_at"))
        .sort("contact_id")
        .select("contact_id", "label", pl.lit(as_of_s).alias("label_start"), "label_known_at")
        .cast(schema)
    )


def assert_labels_known(features: pl.DataFrame, labels: pl.DataFrame) -> None:
    """Raise `LeakageError` when a history label (`fit_labels`) rests on an outcome after the feature cutoff.

    History labels describe the past, so the guard is the reverse of `assert_point_in_time`: every deal a label
    is built from must have closed before the features' cutoff (the training as-of date).
    """
    joined = features.select("contact_id", "feature_cutoff").join(
        labels.select("contact_id", "label_known_at"), on="contact_id", how="inner"
    )
    late = joined.filter(pl.col("label_known_at") >= pl.col("feature_cutoff"))
    if late.height:
        raise LeakageError(
            f"{late.height} won/lost label(s) rest on a deal closed at or after the feature cutoff "
            f"(e.g. contact {late['contact_id'][0]}): training would see the future"
        )


def numeric_matrix(features: pl.DataFrame, columns: list[str]) -> np.ndarray:
    """Columns as a float64 matrix (n x len(columns)); nulls become NaN."""
    return features.select([pl.col(c).cast(pl.Float64) for c in columns]).to_numpy()
