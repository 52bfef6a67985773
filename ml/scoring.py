"""Train and apply the dual (fit x intent) lead scorer; tiers; the per-lead score log.

    features = build_features(contacts, events, signals, as_of, config)
    labels = conversion_labels(contacts, outcomes, as_of, horizon_days)
    scorer = train_scorer(features, labels, config)
    scores = scorer.score(build_features(contacts, events, signals, now, config))

No Dagster here: plain polars DataFrames in, plain DataFrames out.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from .config import config_fingerprint
from .estimator import BinnedLogisticClassifier
from .features import assert_labels_known, assert_point_in_time, feature_schema
from .model import AdditiveModel, RulesModel, fit_schema, intent_schema, sigmoid
from .reasons import render_reasons

SCORE_LOG_COLUMNS = [
    "run_id",
    "scored_at",
    "contact_id",
    "model_version",
    "model_kind",
    "config_version",
    "feature_cutoff",
    "fit_score",
    "intent_score",
    "combined_score",
    "tier",
    "reasons",
]
FEATURE_PREFIX = "f_"
SCORE_CHUNK_ROWS = 200_000


def assign_tiers(fit_score: np.ndarray, intent_score: np.ndarray, tiers_config: dict[str, Any]) -> np.ndarray:
    """Tier per lead from the fit x intent matrix (scores 0-100).

    Tier 1 (fast route): fit and intent both high. Tier 2: one high and the other at least medium.
    Tier 3 (nurture): everything else.
    """
    f, i = np.asarray(fit_score), np.asarray(intent_score)
    fit_hi, fit_med = f >= tiers_config["fit_high"], f >= tiers_config["fit_medium"]
    int_hi, int_med = i >= tiers_config["intent_high"], i >= tiers_config["intent_medium"]
    tier1 = fit_hi & int_hi
    tier2 = (fit_hi & int_med) | (int_hi & fit_med)
    return np.where(tier1, 1, np.where(tier2, 2, 3)).astype(np.int8)


def data_fingerprint(features: pl.DataFrame, labels: np.ndarray) -> str:
    """Hash of the exact training rows and labels (order-independent by contact id)."""
    frame = features.with_columns(pl.Series("_label", np.asarray(labels))).sort("contact_id")
    digest = hashlib.sha256()
    digest.update(str(frame.schema).encode())
    digest.update(frame.hash_rows(seed=7).to_numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass
class LeadScorer:
    """A trained (or rules-based) dual scorer: fit model, intent model, combining weights, config."""

    fit_model: AdditiveModel
    intent_model: AdditiveModel
    combine_weights: tuple[float, float, float, float]  # intercept, fit logit, intent logit, their product
    config: dict[str, Any]
    kind: str  # "learned" | "rules"
    fallback_reason: str = ""
    version: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        """Every feature the scorer reads (fit then intent), in log order."""
        return list(dict.fromkeys(self.fit_model.feature_names + self.intent_model.feature_names))

    def tier_thresholds(self) -> dict[str, Any]:
        """The config's tier thresholds; `tiers.rules_fit` replaces the fit ones while the fit part is the ICP
        rules fallback, whose 0-100 scale is a conversion-like rate, not a won/lost probability."""
        tiers = dict(self.config["tiers"])
        rules_fit = tiers.pop("rules_fit", None) or {}
        return {**tiers, **rules_fit} if isinstance(self.fit_model, RulesModel) else tiers

    def combined_logit(self, fit_logit: np.ndarray, intent_logit: np.ndarray) -> np.ndarray:
        """Combined log-odds from the two scores (a small logistic stack with an interaction)."""
        w0, w1, w2, w3 = self.combine_weights
        return w0 + w1 * fit_logit + w2 * intent_logit + w3 * fit_logit * intent_logit

    def score(self, features: pl.DataFrame, with_reasons: bool = True) -> pl.DataFrame:
        """Scores 0-100 (calibrated probability x 100), tier and reasons per row of `features`."""
        if features.height > SCORE_CHUNK_ROWS:
            # Chunks bound the memory of the contribution matrices and the reason texts.
            return pl.concat(
                [
                    self._score_chunk(features.slice(i, SCORE_CHUNK_ROWS), with_reasons)
                    for i in range(0, features.height, SCORE_CHUNK_ROWS)
                ]
            )
        return self._score_chunk(features, with_reasons)

    def _score_chunk(self, features: pl.DataFrame, with_reasons: bool) -> pl.DataFrame:
        fit_base, fit_c = self.fit_model.contributions(features)
        int_base, int_c = self.intent_model.contributions(features)
        fit_logit = fit_base + fit_c.sum(axis=1)
        intent_logit = int_base + int_c.sum(axis=1)
        fit_p, intent_p = sigmoid(fit_logit), sigmoid(intent_logit)
        combined_p = sigmoid(self.combined_logit(fit_logit, intent_logit))
        fit_score, intent_score = np.round(100 * fit_p, 1), np.round(100 * intent_p, 1)
        out = pl.DataFrame(
            {
                "contact_id": features["contact_id"],
                "fit_score": fit_score,
                "intent_score": intent_score,
                "combined_score": np.round(100 * combined_p, 1),
                "tier": assign_tiers(fit_score, intent_score, self.tier_thresholds()),
            }
        )
        if with_reasons:
            names = self.fit_model.feature_names + self.intent_model.feature_names
            prefixes = ["fit"] * len(self.fit_model.feature_names) + ["intent"] * len(self.intent_model.feature_names)
            out = out.with_columns(render_reasons(features, names, np.hstack([fit_c, int_c]), prefixes))
        return out

    def explain(self, features: pl.DataFrame) -> pl.DataFrame:
        """Long table of every contribution: contact_id, model, feature, value, contribution, baseline."""
        rows = []
        for part, model in (("fit", self.fit_model), ("intent", self.intent_model)):
            base, contrib = model.contributions(features)
            for j, name in enumerate(model.feature_names):
                rows.append(
                    pl.DataFrame(
                        {
                            "contact_id": features["contact_id"],
                            "model": part,
                            "feature": name,
                            "value": features[name].cast(pl.String),
                            "contribution": contrib[:, j],
                            "baseline": base,
                        }
                    )
                )
        return pl.concat(rows)

    def score_log(self, features: pl.DataFrame, run_id: str, scored_at: datetime | None = None) -> pl.DataFrame:
        """Score rows ready to append to the score log: run, versions, scores, tier, reasons and — one typed
        column per feature, prefixed `f_` — the exact feature values the scores and reasons came from."""
        scores = self.score(features)
        # Every feature the row was built with (model inputs and the counts reasons quote), so a score and its
        # reasons can be recomputed from the log alone.
        cols = [c for c in feature_schema(self.config) if c in features.columns]
        return (
            scores.with_columns(
                pl.lit(run_id).alias("run_id"),
                # Naive UTC timestamp: the score-log gate's watermark compares it with TIMESTAMP values.
                pl.lit(_naive_utc(scored_at or datetime.now(UTC)), dtype=pl.Datetime("us")).alias("scored_at"),
                pl.lit(self.version or "unversioned").alias("model_version"),
                pl.lit(self.kind).alias("model_kind"),
                pl.lit(self.config["version"]).alias("config_version"),
                features["feature_cutoff"].alias("feature_cutoff"),
            )
            .select(SCORE_LOG_COLUMNS)
            .hstack(features.select([pl.col(c).alias(FEATURE_PREFIX + c) for c in cols]))
        )


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def features_from_log(log: pl.DataFrame) -> pl.DataFrame:
    """The feature frame logged with a score run (inverse of the `f_` columns of `LeadScorer.score_log`)."""
    cols = [c for c in log.columns if c.startswith(FEATURE_PREFIX)]
    return log.select("contact_id", "feature_cutoff", *[pl.col(c).alias(c.removeprefix(FEATURE_PREFIX)) for c in cols])


def rules_scorer(config: dict[str, Any], reason: str) -> LeadScorer:
    """The transparent ICP rules scorer (fallback), flagged with why it is used."""
    # Rules: both logits on comparable scales; the combination is their sum shifted back to a base rate.
    return LeadScorer(
        RulesModel("fit", config),
        RulesModel("intent", config),
        (2.0, 1.0, 1.0, 0.0),
        config,
        kind="rules",
        fallback_reason=reason,
    )


def history_is_thin(
    labels: np.ndarray, config: dict[str, Any], rows: str = "labelled leads", positives: str = "positive outcomes"
) -> str:
    """Why the labelled history is too thin to learn from ('' when it is enough)."""
    y = np.asarray(labels)
    need_n, need_pos = int(config["fallback"]["min_labelled"]), int(config["fallback"]["min_positives"])
    n, pos = int(y.size), int(y.sum())
    if n < need_n:
        return f"only {n} {rows} (< {need_n})"
    if pos < need_pos:
        return f"only {pos} {positives} (< {need_pos})"
    if pos == n:
        return "no negative outcomes"
    return ""


def _fit_part(
    features: pl.DataFrame, fit_labels: pl.DataFrame | None, config: dict[str, Any], seed: int
) -> tuple[AdditiveModel, dict[str, Any]]:
    """The fit model — learned on won vs lost among closed deals, else the ICP rules — and its metadata."""
    if fit_labels is None:
        y = np.zeros(0, dtype=int)
        thin = "no won/lost history given"
    else:
        assert_labels_known(features, fit_labels)
        data = features.join(fit_labels.select("contact_id", "label"), on="contact_id", how="inner")
        y = data["label"].to_numpy().astype(int)
        thin = history_is_thin(y, config, rows="leads with a closed deal", positives="closed-won leads")
    meta = {"fit_label": "won_vs_lost", "fit_labelled": int(y.size), "fit_positives": int(y.sum())}
    if thin:
        return RulesModel("fit", config), {**meta, "fit_kind": "rules", "fit_fallback_reason": thin}
    model = _learned(fit_schema(), data, y, seed)
    return model, {**meta, "fit_kind": "learned", "fit_fallback_reason": "", "fit_C": model.C_}


def train_scorer(
    features: pl.DataFrame,
    labels: pl.DataFrame,
    config: dict[str, Any],
    seed: int = 0,
    fit_labels: pl.DataFrame | None = None,
) -> LeadScorer:
    """Learn the fit and intent models (or fall back to ICP rules when history is thin).

    `labels`: `contact_id`, `label` (0/1), `label_start` — from `conversion_labels`: the intent model and the
    combination learn conversion (a meeting or opportunity within the horizon). `fit_labels`: from
    `ml.features.fit_labels` — the fit model learns won vs lost among leads with a closed deal; with fewer than
    `fallback.min_labelled` such leads or `fallback.min_positives` won ones (or none given) the fit part is the
    ICP rules model, said in `fallback_reason` and the metadata (`fit_kind`, `fit_fallback_reason`). Raises
    `LeakageError` when a feature row was cut off after its label window starts, or a won/lost label rests on a
    deal closed after the feature cutoff.
    """
    assert_point_in_time(features, labels)
    data = features.join(labels.select("contact_id", "label"), on="contact_id", how="inner")
    y = data["label"].to_numpy().astype(int)
    thin = history_is_thin(y, config)
    meta = {
        "labelled": int(y.size),
        "positives": int(y.sum()),
        "config_version": config["version"],
        "config_fingerprint": config_fingerprint(config),
        "feature_schema": feature_schema(config),
        "trained_at": time.time(),
        "training_fingerprint": data_fingerprint(
            features.join(labels.select("contact_id"), on="contact_id", how="semi"), y
        )
        if y.size
        else "",
    }
    if thin:
        scorer = rules_scorer(config, thin)
        scorer.metadata = {**meta, "kind": "rules", "fallback_reason": thin, "fit_kind": "rules",
                           "fit_fallback_reason": thin}
        return scorer
    fit_model, fit_meta = _fit_part(features, fit_labels, config, seed)
    intent_model = _learned(intent_schema(config), data, y, seed + 1)
    # The combination learns conversion from both log-odds (the fit one, learned on won/lost, is an input).
    lf, li = fit_model.predict_logit(data), intent_model.predict_logit(data)
    with threadpool_limits(limits=1, user_api="blas"):  # four weights: BLAS threads only add hand-offs
        stack = LogisticRegression(C=10.0, max_iter=1000).fit(np.column_stack([lf, li, lf * li]), y)
    weights = (float(stack.intercept_[0]), *(float(w) for w in stack.coef_.ravel()))
    reason = ""
    if fit_meta["fit_kind"] == "rules":
        reason = f"fit part scored by ICP rules: {fit_meta['fit_fallback_reason']}"
    scorer = LeadScorer(fit_model, intent_model, weights, config, kind="learned", fallback_reason=reason)
    scorer.metadata = {**meta, **fit_meta, "kind": "learned", "fallback_reason": reason, "intent_C": intent_model.C_}
    return scorer


def _learned(schema: dict[str, str], data: pl.DataFrame, y: np.ndarray, seed: int) -> BinnedLogisticClassifier:
    """One part of the lead scorer: the same estimator a data team uses on its own table."""
    categorical = [name for name, kind in schema.items() if kind == "categorical"]
    model = BinnedLogisticClassifier(categorical=categorical, random_state=seed)
    return model.fit(data.select(list(schema)), y)


__all__ = [
    "LeadScorer",
    "assign_tiers",
    "train_scorer",
    "rules_scorer",
    "history_is_thin",
    "data_fingerprint",
    "features_from_log",
    "SCORE_LOG_COLUMNS",
    "FEATURE_PREFIX",
]
