"""Warehouse-level steps the orchestrator calls: train + register, score + log, drift, publish.

Each takes an open DuckDB connection, a `ModelRegistry` and the config; none imports Dagster.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import polars as pl

from .drift import build_reference, drift_report
from .features import conversion_labels, feature_schema, fit_labels
from .metrics import auc, expected_calibration_error
from .registry import IncompatibleModelError, ModelRegistry, PromotionDecision, RegistryError, evaluate_scorer
from .score_log import DEFAULT_TABLE, PruneReport, append_score_log, keep_days, prune_score_log, table_exists
from .scoring import FEATURE_PREFIX, LeadScorer, features_from_log, train_scorer
from .table_names import PUBLISHED_TABLE, RUN_VERDICTS_TABLE
from .warehouse import load_lead_accounts, load_scoring_inputs

HOLDOUT_SHARE = 0.2


@dataclass
class TrainingOutcome:
    """What a training step did: trained or skipped (and why), the new version and the promotion decision."""

    trained: bool
    reason: str
    champion: str | None
    version: str | None = None
    decision: PromotionDecision | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    kind: str = ""
    fallback_reason: str = ""


@dataclass
class ScoringOutcome:
    """One scoring run: its id, how many leads, which model, tier counts."""

    run_id: str
    rows: int
    model_version: str
    model_kind: str
    fallback_reason: str
    tier_counts: dict[int, int]
    scored_at: datetime
    pruned: PruneReport = PruneReport(0, 0)  # older runs the score log dropped after this one (its retention)


def _model_schema(scorer: LeadScorer, config: dict[str, Any]) -> dict[str, str]:
    schema = feature_schema(config)
    return {name: schema.get(name, "numeric") for name in scorer.feature_names}


def _holdout(ids: pl.Series, share: float) -> pl.Series:
    return pl.Series((ids.hash(seed=11).to_numpy() % 10_000) < share * 10_000)


def won_lost_metrics(scorer: LeadScorer, features: pl.DataFrame, won_lost: pl.DataFrame) -> dict[str, Any]:
    """The fit score against its own label on held-out leads with a closed deal: AUC and calibration error of
    won vs lost (`fit_won_lost_*`; None when the holdout lacks one of the classes)."""
    rows = features.join(won_lost.select("contact_id", "label"), on="contact_id", how="inner")
    y = rows["label"].to_numpy().astype(int)
    out: dict[str, Any] = {"fit_won_lost_rows": int(y.size), "fit_won_lost_positives": int(y.sum())}
    if y.size == 0 or y.min() == y.max():
        return {**out, "fit_won_lost_auc": None, "fit_won_lost_calibration_error": None}
    fit_p = scorer.score(rows, with_reasons=False)["fit_score"].to_numpy() / 100.0
    return {
        **out,
        "fit_won_lost_auc": round(float(auc(y, fit_p)), 5),
        "fit_won_lost_calibration_error": round(float(expected_calibration_error(y, fit_p)), 5),
    }


def train_and_register(
    con, registry: ModelRegistry, config: dict[str, Any], force: bool = False, max_age_days: float = 7.0, seed: int = 0
) -> TrainingOutcome:
    """Train a challenger on features as of `horizon` days before the data's end and promote it if it is not
    worse than the champion on the same holdout.

    Skipped (no training) unless `force`, there is no champion, the champion is the rules fallback, or it is
    older than `max_age_days` — so the hourly refresh retrains weekly, and on demand with `force`.
    """
    champion = registry.champion_version()
    if champion and not force and _loadable(registry, champion):
        meta = registry.metadata(champion)
        age_days = (time.time() - float(meta.get("saved_at", 0))) / 86_400
        if meta.get("kind") == "learned" and age_days < max_age_days:
            return TrainingOutcome(
                False,
                f"champion {champion} is {age_days:.1f} days old (< {max_age_days})",
                champion,
                metrics=meta.get("holdout_metrics", {}),
                kind="learned",
            )
    inputs = load_scoring_inputs(con)
    horizon = int(config["labels"]["horizon_days"])
    as_of = inputs.now - timedelta(days=horizon)
    features = inputs.features(as_of, config)
    labels = conversion_labels(inputs.contacts, inputs.outcomes, as_of, horizon)
    # Fit label: won vs lost among leads whose deal closed before the as-of date (the same holdout rule).
    won_lost = fit_labels(inputs.closed_deals, as_of)
    hold = _holdout(labels["contact_id"], HOLDOUT_SHARE)
    fit_hold = _holdout(won_lost["contact_id"], HOLDOUT_SHARE)
    scorer = train_scorer(features, labels.filter(~hold), config, seed=seed, fit_labels=won_lost.filter(~fit_hold))
    holdout = features.join(labels.filter(hold).select("contact_id", "label"), on="contact_id", how="inner")
    y = holdout["label"].to_numpy()
    metrics = evaluate_scorer(scorer, holdout, y) if y.size and 0 < y.sum() < y.size else {}
    if metrics:
        metrics.update(won_lost_metrics(scorer, features, won_lost.filter(fit_hold)))
    train_rows = features.join(labels.filter(~hold).select("contact_id"), on="contact_id", how="semi")
    reference = build_reference(train_rows, scorer.score(train_rows, with_reasons=False), _model_schema(scorer, config))
    version = registry.save(
        scorer,
        {
            "holdout_metrics": metrics,
            "drift_reference": reference,
            "features_as_of": as_of.isoformat(),
            "label_horizon_days": horizon,
            "fit_label": "won vs lost among deals closed before features_as_of",
        },
    )
    if y.size == 0 or y.min() == y.max():
        # No usable holdout (tiny or one-class data): only replace nothing or another fallback.
        current = registry.metadata(champion) if champion else None
        if current is None or current.get("kind") == "rules":
            registry.set_champion(version, "promoted (no usable holdout; replaces no learned model)")
            return TrainingOutcome(
                True,
                "promoted without a holdout comparison",
                version,
                version,
                None,
                metrics,
                scorer.kind,
                scorer.fallback_reason,
            )
        return TrainingOutcome(
            True,
            "kept the learned champion: no usable holdout to compare on",
            champion,
            version,
            None,
            metrics,
            scorer.kind,
            scorer.fallback_reason,
        )
    decision = registry.promote_if_not_worse(version, holdout, y)
    return TrainingOutcome(
        True,
        decision.reason,
        registry.champion_version(),
        version,
        decision,
        metrics,
        scorer.kind,
        scorer.fallback_reason,
    )


def _loadable(registry: ModelRegistry, version: str) -> bool:
    try:
        registry.load(version)
    except IncompatibleModelError:
        return False
    return True


def current_scorer(registry: ModelRegistry, config: dict[str, Any]) -> LeadScorer:
    """The champion, or — before any model exists, or while the champion was saved by older code and a new one
    is not trained yet — the ICP rules scorer, flagged as such."""
    reason = "no trained model in the registry yet"
    try:
        champion = registry.load_champion()
    except IncompatibleModelError as exc:
        champion, reason = None, str(exc)
    if champion is not None:
        return champion
    from .scoring import rules_scorer

    scorer = rules_scorer(config, reason)
    scorer.version = "rules-unregistered"
    return scorer


def score_and_log(
    con,
    registry: ModelRegistry,
    config: dict[str, Any],
    run_id: str,
    table: str = DEFAULT_TABLE,
    features: pl.DataFrame | None = None,
) -> ScoringOutcome:
    """Score every lead as of the data's end with the current model and append the run to the score log.

    `features`: `build_features` of this warehouse's `load_scoring_inputs` computed already (the lead features
    mart built from the same tables, `ml.warehouse.load_lead_features`); computed here when not given."""
    scorer = current_scorer(registry, config)
    if features is None:
        inputs = load_scoring_inputs(con)
        features = inputs.features(inputs.now, config)
    scored_at = datetime.now(UTC)
    rows = scorer.score_log(features, run_id=run_id, scored_at=scored_at)
    append_score_log(con, rows, table)
    # The runs published scores come from stay, however old: the drift check may block runs for longer than the log
    # keeps them, and the last run it let through is then what ml.lead_scores is (or will be) published from.
    pruned = prune_score_log(
        con, keep_days(), table, keep_run_ids=(published_run_id(con), latest_publishable_run_id(con, table))
    )
    counts = dict(zip(*rows["tier"].value_counts().sort("tier").to_dict(as_series=False).values(), strict=True))
    return ScoringOutcome(
        run_id,
        rows.height,
        scorer.version,
        scorer.kind,
        scorer.fallback_reason,
        {int(k): int(v) for k, v in counts.items()},
        scored_at,
        pruned,
    )


def run_drift(
    con, registry: ModelRegistry, config: dict[str, Any], run_id: str, table: str = DEFAULT_TABLE
) -> pl.DataFrame | None:
    """PSI per feature and score of one logged run against its model's training reference (None: no reference)."""
    versions = con.execute(f"select model_version from {table} where run_id = ? limit 1", [run_id]).fetchall()
    if not versions:
        return None
    version = versions[0][0]
    try:
        reference = registry.metadata(version).get("drift_reference")
    except RegistryError:  # an unregistered rules scorer has no reference
        reference = None
    if not reference:
        return None
    # Only what the report compares: the referenced features and the scores (not the reason texts, most of a
    # run's bytes, nor the features the reference does not hold).
    logged = set(con.sql(f"select * from {table} limit 0").columns)
    needed = [
        "contact_id",
        "feature_cutoff",
        *(FEATURE_PREFIX + name for name in reference if FEATURE_PREFIX + name in logged),
        "fit_score",
        "intent_score",
        "combined_score",
    ]
    selected = ", ".join(f'"{c}"' for c in dict.fromkeys(needed))
    log = con.sql(f"select {selected} from {table} where run_id = ?", params=[run_id]).pl()
    # The run's rows hold one lead each: its scores sit beside its logged features, row for row (no join).
    frame = features_from_log(log).with_columns(log.select("fit_score", "intent_score", "combined_score"))
    drift = config["drift"]
    # Leads cluster in accounts: account-level columns are judged at the number of accounts (ml.drift).
    frame = frame.join(load_lead_accounts(con), on="contact_id", how="left")
    return drift_report(
        reference,
        frame,
        warn=float(drift["warn_psi"]),
        block=float(drift["block_psi"]),
        noise_quantile=float(drift.get("noise_quantile", 0.99)),
        cluster_column="company_domain",
    )


def publish_scores(con, run_id: str, table: str = DEFAULT_TABLE, published: str = PUBLISHED_TABLE) -> int:
    """Replace the published scores table with one run's rows (the run passed its drift and quality gates)."""
    schema = published.rpartition(".")[0]
    if schema:
        con.execute(f"create schema if not exists {schema}")
    con.execute(f"create or replace table {published} as select * from {table} where run_id = ?", [run_id])
    return con.execute(f"select count(*) from {published}").fetchall()[0][0]


def published_run_id(con, published: str = PUBLISHED_TABLE) -> str | None:
    """The scoring run the published scores were copied from (None before the first publication)."""
    if not table_exists(con, published):
        return None
    rows = con.execute(f"select run_id from {published} limit 1").fetchall()
    return rows[0][0] if rows else None


def record_run_verdict(con, run_id: str, verdict: str, table: str = RUN_VERDICTS_TABLE) -> None:
    """Keep the drift verdict of a logged run (`ok`, `warn` or `block`): only runs judged `ok` or `warn` may be
    published, whichever asset is materialized later."""
    con.execute(f"create schema if not exists {table.rpartition('.')[0]}")
    con.execute(f"create table if not exists {table} (run_id varchar, verdict varchar, judged_at timestamptz)")
    con.execute(f"insert into {table} values (?, ?, now())", [run_id, verdict])


DRIFT_REPORTS_TABLE = "ml.score_drift_reports"


def record_drift_report(con, run_id: str, report: pl.DataFrame | None, table: str = DRIFT_REPORTS_TABLE) -> int:
    """Keep the PSI rows of a run's drift report (`run_drift`), replacing any earlier ones of that run, so readers
    (the console's publication) show the report the drift check judged instead of computing it again. Returns
    the rows kept (none when the run had no reference to compare with)."""
    con.execute(f"create schema if not exists {table.rpartition('.')[0]}")
    con.execute(
        f"create table if not exists {table} (run_id varchar, feature varchar, psi double, noise_psi double, "
        "status varchar)"
    )
    con.execute(f"delete from {table} where run_id = ?", [run_id])
    if report is None or report.is_empty():
        return 0
    rows = [
        (run_id, r["column"], float(r["psi"]), float(r["noise_psi"]), r["status"]) for r in report.iter_rows(named=True)
    ]
    con.executemany(f"insert into {table} values (?, ?, ?, ?, ?)", rows)
    return len(rows)


def recorded_drift_report(con, run_id: str, table: str = DRIFT_REPORTS_TABLE) -> list[tuple] | None:
    """(feature, psi, noise_psi, status) rows kept for a run by `record_drift_report`; None when none were kept
    (an older warehouse, or the drift check has not judged that run)."""
    try:
        rows = con.execute(
            f"select feature, psi, noise_psi, status from {table} where run_id = ? order by psi desc, feature",
            [run_id],
        ).fetchall()
    except duckdb.CatalogException:
        return None
    return rows or None


_PUBLISHABLE_VERDICTS_SQL = """
select run_id from (select run_id, arg_max(verdict, judged_at) as verdict from {verdicts} group by run_id)
where verdict in ('ok', 'warn')
"""
_RUNS_TRIED_FROM_THE_TOP = 4  # newest runs tried one by one before grouping the whole log (a long block)


def latest_publishable_run_id(con, table: str = DEFAULT_TABLE, verdicts: str = RUN_VERDICTS_TABLE) -> str | None:
    """The most recent logged run whose latest drift verdict lets it be published (None when there is none:
    a run never judged, or blocked, is never published).

    "Most recent" is a run's latest `scored_at`. The newest runs are taken one at a time, each by a top-1 query
    on `scored_at` (DuckDB answers it from the row groups' statistics: a few rows, not the log), until one is
    publishable; the log keeps up to a week of hourly runs, and grouping all of it by run (what the fallback
    does, after a few runs in a row were not publishable) cost about a second at a million leads."""
    try:
        publishable = {row[0] for row in con.execute(_PUBLISHABLE_VERDICTS_SQL.format(verdicts=verdicts)).fetchall()}
        if not publishable:
            return None
        passed: list[str] = []
        for _ in range(_RUNS_TRIED_FROM_THE_TOP):
            # The newest row of the runs not yet tried is the newest row of the newest such run. Rows without a
            # time come last, as runs without one do in the fallback's order (DuckDB's default null order).
            others = f" and run_id not in ({', '.join('?' for _ in passed)})" if passed else ""
            row = con.execute(
                f"select run_id from {table} where run_id is not null{others} and scored_at is not null "
                "order by scored_at desc limit 1",
                passed,
            ).fetchone()
            if row is None:
                break  # only runs without a time are left: the fallback orders them
            if row[0] in publishable:
                return row[0]
            passed.append(row[0])
        rows = con.execute(
            f"""
            with judged as (
                select run_id, arg_max(verdict, judged_at) as verdict from {verdicts} group by run_id
            )
            select l.run_id from (select run_id, max(scored_at) as scored_at from {table} group by run_id) l
            join judged j using (run_id)
            where j.verdict in ('ok', 'warn')
            order by l.scored_at desc limit 1
            """
        ).fetchall()
    except duckdb.CatalogException:  # nothing logged or judged yet
        return None
    return rows[0][0] if rows else None


def latest_run_id(con, table: str = DEFAULT_TABLE) -> str | None:
    """The id of the most recent scoring run in the log (None when the log is empty or missing)."""
    try:
        rows = con.execute(f"select run_id from {table} order by scored_at desc limit 1").fetchall()
    except duckdb.CatalogException:  # no run logged yet
        return None
    return rows[0][0] if rows else None


def run_size(con, run_id: str, table: str = DEFAULT_TABLE) -> int:
    """How many leads a logged run scored."""
    return con.execute(f"select count(*) from {table} where run_id = ?", [run_id]).fetchall()[0][0]
