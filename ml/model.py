"""Explainable additive models: the binning the learned model uses (`FeatureBins`; the model itself is
`ml.estimator.BinnedLogisticClassifier`), a rules model from the ICP config, and a HubSpot-style points baseline.

Every model here is additive on the log-odds scale: `logit = baseline + sum(contributions)`, one contribution per
feature, so reason codes are exact — the contributions a reason quotes add up to the score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from .features import FIT_FEATURES

EPS = 1e-9


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function."""
    return 1.0 / (1.0 + np.exp(-np.clip(x, -35, 35)))


def logit(p: np.ndarray) -> np.ndarray:
    """Inverse of `sigmoid` with clipping away from 0 and 1."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@dataclass
class FeatureBins:
    """How one feature's raw values map to bins: numeric edges or categorical levels."""

    name: str
    kind: str  # "numeric" | "categorical"
    edges: list[float] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)

    @property
    def n_bins(self) -> int:
        # numeric: len(edges)+1 value bins + 1 missing bin; categorical: levels + 1 "other/unseen" bin
        return len(self.edges) + 2 if self.kind == "numeric" else len(self.levels) + 1

    def index(self, values: pl.Series) -> np.ndarray:
        """Bin index per value (vectorized)."""
        if self.kind == "numeric":
            x = values.cast(pl.Float64).to_numpy()
            idx = np.searchsorted(np.asarray(self.edges), x, side="right")
            return np.where(np.isnan(x), len(self.edges) + 1, idx).astype(np.int32)
        mapping = {level: i for i, level in enumerate(self.levels)}
        return (
            values.cast(pl.String)
            .replace_strict(mapping, default=len(self.levels), return_dtype=pl.Int32)
            .fill_null(len(self.levels))
            .to_numpy()
        )

    @classmethod
    def learn(cls, name: str, kind: str, values: pl.Series, n_bins: int, min_count: int) -> FeatureBins:
        """Quantile edges (numeric; zero kept as its own bin when common) or frequent levels (categorical)."""
        if kind == "categorical":
            counts = values.cast(pl.String).fill_null("unknown").value_counts(sort=True)
            levels = [
                v
                for v, c in zip(counts[counts.columns[0]].to_list(), counts["count"].to_list(), strict=True)
                if c >= min_count
            ]
            return cls(name, kind, levels=sorted(levels))
        x = values.cast(pl.Float64).to_numpy()
        x = x[~np.isnan(x)]
        if x.size == 0:
            return cls(name, kind, edges=[])
        qs = np.quantile(x, np.linspace(0, 1, n_bins + 1)[1:-1])
        edges = np.unique(qs)
        if (x == 0).mean() > 0.05:
            edges = np.unique(np.append(edges[edges > EPS], EPS))
        return cls(name, kind, edges=[float(e) for e in edges])


class AdditiveModel:
    """Interface: `contributions(features) -> (baseline, matrix n x len(feature_names))` on the log-odds scale."""

    feature_names: list[str]

    def contributions(self, features: pl.DataFrame) -> tuple[float, np.ndarray]:  # pragma: no cover - interface
        raise NotImplementedError

    def predict_logit(self, features: pl.DataFrame) -> np.ndarray:
        """Log-odds per row (baseline + sum of contributions)."""
        base, contrib = self.contributions(features)
        return base + contrib.sum(axis=1)

    def predict_proba(self, features: pl.DataFrame) -> np.ndarray:
        """Calibrated probability per row."""
        return sigmoid(self.predict_logit(features))


class RulesModel(AdditiveModel):
    """Transparent fallback from the ICP config, used when labelled history is too thin to learn from.

    Fit: ICP components (industry, size, geo, role, seniority, tech). Intent: capped log of decayed engagement.
    Weights are fixed in code below and documented in docs/scoring.md; scores are shown 0-100 like learned ones.
    """

    # Weights and baselines are set so a typical lead lands near a 10% base rate and the ICP-perfect, highly
    # engaged lead near 90% — the same 0-100 scale (and tier thresholds) as the learned models.
    FIT_WEIGHTS = {
        "industry": 2.1,
        "employees": 1.5,
        "country_code": 0.9,
        "role_category": 1.5,
        "seniority": 1.5,
        "icp_tech_matches": 0.75,
    }
    INTENT_WEIGHTS = {
        "decayed_pricing_visit": 3.4,
        "decayed_demo_request": 4.0,
        "decayed_email_reply": 3.0,
        "decayed_email_click": 1.9,
        "decayed_web_visit": 0.95,
        "decayed_product_event": 0.55,
        "decayed_hiring_signal": 1.1,
        "decayed_funding_signal": 1.1,
    }

    def __init__(self, part: str, config: dict[str, Any]):
        if part not in ("fit", "intent"):
            raise ValueError("part must be 'fit' or 'intent'")
        self.part = part
        self.config = config
        self.feature_names = list(self.FIT_WEIGHTS if part == "fit" else self.INTENT_WEIGHTS)
        # Feature name -> kind, like `BinnedLogisticClassifier.schema` (drift references and logs read either).
        kinds = fit_schema() if part == "fit" else {}
        self.schema = {name: kinds.get(name, "numeric") for name in self.feature_names}
        self.baseline = -7.4 if part == "fit" else -2.9

    def contributions(self, features: pl.DataFrame) -> tuple[float, np.ndarray]:
        """Fixed-weight contributions on the log-odds scale."""
        if self.part == "intent":
            cols = [
                self.INTENT_WEIGHTS[f] * np.minimum(np.log1p(features[f].cast(pl.Float64).to_numpy()), 3.0)
                for f in self.feature_names
            ]
            return self.baseline, np.column_stack(cols)
        from .features import icp_components

        icp = icp_components(
            features.with_columns(pl.lit(None, dtype=pl.List(pl.String)).alias("technologies")), self.config
        )
        comp = {
            "industry": icp["icp_industry"],
            "employees": icp["icp_size"],
            "country_code": icp["icp_geo"],
            "role_category": icp["icp_role"],
            "seniority": icp["icp_seniority"],
            "icp_tech_matches": (features["icp_tech_matches"].cast(pl.Float64) / 2.0).clip(0.0, 1.0),
        }
        cols = [self.FIT_WEIGHTS[f] * comp[f].to_numpy() for f in self.feature_names]
        return self.baseline, np.column_stack(cols)


def points_baseline(features: pl.DataFrame, config: dict[str, Any]) -> np.ndarray:
    """A HubSpot-style points score (for comparison only): fixed points per attribute and per recent action."""
    icp = config["icp"]
    f = features
    pts = (
        pl.when(pl.col("seniority").is_in(["c_level", "vp"]))
        .then(15)
        .when(pl.col("seniority") == "director")
        .then(10)
        .otherwise(0)
        + pl.when(pl.col("role_category").is_in(icp["buyer_roles"])).then(10).otherwise(0)
        + pl.when(pl.col("industry").is_in(list(icp["industries"]))).then(10).otherwise(0)
        + pl.when(pl.col("employees").is_between(icp["employee_range"]["min"], icp["employee_range"]["max"]))
        .then(10)
        .otherwise(0)
        + 5 * pl.col("count_pricing_visit_30d").clip(0, 4)
        + 20 * pl.col("count_demo_request_30d").clip(0, 1)
        + 3 * pl.col("count_email_click_30d").clip(0, 5)
        + 10 * pl.col("count_email_reply_30d").clip(0, 2)
        + 1 * pl.col("count_web_visit_30d").clip(0, 10)
    )
    return f.select(pts.cast(pl.Float64).alias("points"))["points"].to_numpy()


def fit_schema() -> dict[str, str]:
    """The fit model's features and kinds."""
    from .features import FIT_CATEGORICAL

    return {c: ("categorical" if c in FIT_CATEGORICAL else "numeric") for c in FIT_FEATURES}


def intent_schema(config: dict[str, Any]) -> dict[str, str]:
    """The intent model's features: decayed engagement per kind and recency.

    Windowed counts are computed and logged too (reason texts quote them) but not fed to the model: next to the
    decayed sums they are collinear, which flips bin signs and makes reasons contradict each other, for no gain
    in AUC on the sample world (0.792 with them vs 0.788 without).
    """
    from .features import ALL_KINDS

    return {c: "numeric" for c in [f"decayed_{k}" for k in ALL_KINDS] + ["days_since_last_touch"]}
