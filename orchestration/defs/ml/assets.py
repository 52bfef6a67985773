"""Lead scoring in Dagster: weekly / on-demand training, scoring in every (hourly) refresh, a blocking drift
check, and publishing the scores only when the run passed its drift check and quality gate.

All logic lives in `ml.pipeline`; this module only wires it to the warehouse and reports metadata.

`ml.pipeline`, `ml.registry` and `ml.replies` (scikit-learn, SciPy and pandas under them: ~1 s of CPU) are imported
by the steps that use them, not when the definitions load: every refresh, and every step process of a
multi-process run, loads the definitions. The refresh's dbt step imports `SCORING_MODULES` on a thread while it
waits for dbt, so the scoring steps find them loaded.
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from ml.config import load_config
from ml.drift import drift_verdict
from ml.metrics import calibration_markdown, tier_markdown
from ml.warehouse import load_lead_features
from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL, WAREHOUSE_RUN_TAG, resolve_paths

if TYPE_CHECKING:
    from ml.replies import ReplyModelStore

# What the steps of this module import when they run.
SCORING_MODULES = ("ml.pipeline", "ml.registry", "ml.replies")

SCORER_KEY = dg.AssetKey(["ml", "lead_scorer"])
SCORE_LOG_KEY = dg.AssetKey(["ml", "score_log"])
PUBLISHED_KEY = dg.AssetKey(["ml", "lead_scores"])
REPLY_CLASSIFIER_KEY = dg.AssetKey(["ml", "reply_classifier"])
REPLY_CLASSIFICATIONS_KEY = dg.AssetKey(["ml", "reply_classifications"])
# What ml.warehouse reads: golden contacts / accounts and their crosswalks (the lead key), staging for the rest.
SCORING_INPUTS = [
    *(
        dg.AssetKey(["staging", name])
        for name in (
            "stg_hubspot__contacts",
            "stg_hubspot__companies",
            "stg_hubspot__meetings",
            "stg_hubspot__deals",
            "stg_email__events",
            "stg_segment__web_events",
            "stg_segment__product_events",
            "stg_signals__signals",
        )
    ),
    *(
        dg.AssetKey(["marts", name])
        for name in ("dim_contacts", "contact_crosswalk", "dim_accounts", "account_crosswalk")
    ),
]

# The lead features mart: `build_features` of the same inputs, built by dbt earlier in the refresh.
LEAD_FEATURES_KEY = dg.AssetKey(["marts", "fct_lead_features"])


def models_dir() -> Path:
    """Registry folder: `ACTIONHOUSE_MODELS_DIR`, else `<data dir>/models`."""
    return Path(os.environ.get("ACTIONHOUSE_MODELS_DIR", resolve_paths().data_dir / "models"))


class TrainingConfig(dg.Config):
    """`force`: train a challenger even if the champion is recent (the weekly job and on-demand runs)."""

    force: bool = False
    max_age_days: float = 7.0


def _round(value):
    return round(value, 4) if isinstance(value, float) else value


@dg.asset(
    key=SCORER_KEY,
    deps=SCORING_INPUTS,
    group_name="ml",
    pool=WAREHOUSE_POOL,
    kinds={"python", "sklearn"},
    owners=["team:revops"],
    description="Fit and intent models (binned logistic, calibrated) or the ICP rules fallback when history "
    "is thin; registered under data/models and promoted only if not worse than the champion.",
)
def lead_scorer(
    context: dg.AssetExecutionContext, config: TrainingConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Train a challenger (weekly or when forced) and promote it if it holds up on the same holdout."""
    from ml.pipeline import train_and_register
    from ml.registry import ModelRegistry

    registry = ModelRegistry(models_dir())
    with warehouse.connect() as con:
        outcome = train_and_register(con, registry, load_config(), force=config.force, max_age_days=config.max_age_days)
    context.log.info(f"training: {outcome.reason}")
    metrics = outcome.metrics or {}
    metadata = {
        "trained": outcome.trained,
        "decision": outcome.reason,
        "champion": outcome.champion or "",
        "challenger": outcome.version or "",
        "model_kind": outcome.kind,
        "fallback_reason": outcome.fallback_reason,
        **{k: _round(v) for k, v in metrics.items() if isinstance(v, int | float) and v is not None},
    }
    if metrics.get("calibration"):
        metadata["calibration_plot"] = dg.MetadataValue.md(calibration_markdown(metrics["calibration"]))
    if metrics.get("tier_table"):
        metadata["tier_table"] = dg.MetadataValue.md(tier_markdown(metrics["tier_table"]))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=SCORE_LOG_KEY,
    deps=[SCORER_KEY, *SCORING_INPUTS, LEAD_FEATURES_KEY],
    group_name="ml",
    pool=WAREHOUSE_POOL,
    kinds={"python", "duckdb"},
    owners=["team:revops"],
    description="Score log (ml.score_log): per lead and run, model version, exact feature "
    "values (f_* columns), fit / intent / combined scores 0-100, tier and reasons; runs are appended and kept "
    "for ACTIONHOUSE_SCORE_LOG_DAYS (default 7 days).",
)
def score_log(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Score every lead with the champion (or the rules fallback) and append the run to the log.

    The features are read from the lead features mart when this run built it (after this run's staging and
    golden records: the same inputs, the same code); otherwise (scores materialized alone) computed again."""
    from ml.pipeline import score_and_log
    from ml.registry import ModelRegistry

    registry = ModelRegistry(models_dir())
    config = load_config()
    built = context.instance.get_latest_materialization_event(LEAD_FEATURES_KEY)
    fresh_mart = built is not None and built.run_id == context.run.run_id
    with warehouse.connect() as con:
        features = load_lead_features(con, config) if fresh_mart else None
        outcome = score_and_log(con, registry, config, run_id=context.run.run_id, features=features)
    context.log.info(
        "features read from the lead features mart built in this run"
        if fresh_mart
        else "features computed from the warehouse (the lead features mart was not built in this run)"
    )
    if outcome.model_kind == "rules":
        context.log.warning(f"scored with the ICP rules fallback: {outcome.fallback_reason}")
    if outcome.pruned.runs:
        context.log.info(
            f"score log: dropped {outcome.pruned.runs} run(s) older than its window ({outcome.pruned.rows} rows)"
        )
    return dg.MaterializeResult(
        metadata={
            "run_id": outcome.run_id,
            "pruned_runs": outcome.pruned.runs,
            "dagster/row_count": outcome.rows,
            "model_version": outcome.model_version,
            "model_kind": outcome.model_kind,
            "fallback_reason": outcome.fallback_reason,
            **{f"tier_{tier}_leads": n for tier, n in sorted(outcome.tier_counts.items())},
        }
    )


@dg.asset_check(
    asset=SCORE_LOG_KEY,
    name="score_drift",
    blocking=True,
    pool=WAREHOUSE_POOL,
    description="PSI per feature and score of the latest run vs the model's training data: warns "
    "above 0.1, blocks publishing above 0.25 — when the PSI is also beyond what sampling noise gives for that "
    "many leads.",
)
def score_drift(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Compare the latest scoring run with its model's training reference."""
    from ml.pipeline import latest_run_id, record_drift_report, record_run_verdict, run_drift, run_size
    from ml.registry import ModelRegistry

    config = load_config()
    with warehouse.connect() as con:
        run_id = latest_run_id(con)
        report = run_drift(con, ModelRegistry(models_dir()), config, run_id) if run_id else None
        rows = run_size(con, run_id) if run_id else 0
    verdict, message = drift_verdict(report, rows, config["drift"])
    if run_id:
        with warehouse.connect() as con:
            record_run_verdict(con, run_id, verdict)
            record_drift_report(con, run_id, report)
    context.log.info(f"drift: {verdict}: {message}")
    metadata = {"verdict": verdict, "message": message, "run_id": run_id or "", "leads": rows}
    if report is not None and not report.is_empty():
        metadata["max_psi"] = float(report["psi"].max())
        metadata["psi"] = dg.MetadataValue.md(
            "| column | psi | noise limit | status |\n|---|---|---|---|\n"
            + "\n".join(
                f"| {r['column']} | {r['psi']:.4f} | {r['noise_psi']:.4f} | {r['status']} |"
                for r in report.iter_rows(named=True)
            )
        )
    severity = dg.AssetCheckSeverity.ERROR if verdict == "block" else dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(passed=verdict == "ok", severity=severity, metadata=metadata)


@dg.asset(
    key=PUBLISHED_KEY,
    deps=[SCORE_LOG_KEY],
    group_name="ml",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    owners=["team:revops"],
    description="The scores downstream tools read (ml.lead_scores): the latest run that passed the drift "
    "check and the score-log quality gate.",
)
def lead_scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Publish the latest logged run whose drift check let it through (never a blocked or unjudged run)."""
    from ml.pipeline import latest_publishable_run_id, latest_run_id, publish_scores

    with warehouse.connect() as con:
        latest = latest_run_id(con)
        run_id = latest_publishable_run_id(con)
        rows = publish_scores(con, run_id) if run_id else 0
    if latest and run_id != latest:
        context.log.warning(
            f"the latest scoring run {latest} was blocked by the drift check or never judged: "
            f"publishing {run_id or 'nothing'} instead"
        )
    return dg.MaterializeResult(
        metadata={"run_id": run_id or "", "latest_run_id": latest or "", "dagster/row_count": rows}
    )


def reply_store() -> "ReplyModelStore":
    """Reply classifier versions: `<models dir>/reply_classifier`."""
    from ml.replies import ReplyModelStore

    return ReplyModelStore(models_dir() / "reply_classifier")


@dg.asset(
    key=REPLY_CLASSIFIER_KEY,
    deps=[dg.AssetKey(["staging", "stg_email__reply_labels"]), dg.AssetKey(["staging", "stg_email__events"])],
    group_name="ml",
    pool=WAREHOUSE_POOL,
    kinds={"python", "sklearn"},
    owners=["team:revops"],
    description="Reply classifier (TF-IDF + logistic regression + opt-out / legal rules) trained on the replies "
    "SDRs labelled by hand; a new version whenever the labels change, rules only while labels are too few.",
)
def reply_classifier(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Train (or reuse) the reply classifier for the current hand labels."""
    from ml.replies import REPLY_CLASSES, train_reply_model

    with warehouse.connect() as con:
        outcome = train_reply_model(con, reply_store(), load_config())
    context.log.info(f"reply classifier {outcome.version}: {outcome.reason}")
    meta = outcome.metadata
    metadata = {
        "version": outcome.version,
        "trained": outcome.trained,
        "decision": outcome.reason,
        "model_kind": meta.get("kind", ""),
        "labelled_replies": meta.get("labelled_replies", 0),
        **{f"labels_{k}": v for k, v in sorted(meta.get("labels_per_class", {}).items())},
    }
    report = meta.get("holdout_report") or {}
    if report:
        metadata["holdout_rows"] = meta.get("holdout_rows", 0)
        metadata["holdout_macro_f1"] = _round(meta.get("holdout_macro_f1"))
        metadata["holdout_needs_human_share"] = _round(report["_needs_human_share"]["share"])
        metadata["holdout_per_class"] = dg.MetadataValue.md(
            "| class | precision | recall | support |\n|---|---|---|---|\n"
            + "\n".join(
                f"| {c} | {report[c]['precision']:.3f} | {report[c]['recall']:.3f} | {report[c]['support']} |"
                for c in REPLY_CLASSES
                if c in report
            )
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=REPLY_CLASSIFICATIONS_KEY,
    deps=[
        REPLY_CLASSIFIER_KEY,
        dg.AssetKey(["staging", "stg_email__events"]),
        dg.AssetKey(["staging", "stg_hubspot__contacts"]),
        dg.AssetKey(["marts", "contact_crosswalk"]),
    ],
    group_name="ml",
    pool=WAREHOUSE_POOL,
    kinds={"python", "duckdb"},
    owners=["team:revops"],
    description="Every email reply classified by the current reply classifier (ml.reply_classifications): "
    "class, confidence, needs_human, rule hit, model version; only replies this version has not classified yet.",
)
def reply_classifications(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Classify the replies the current model version has not seen."""
    from ml.replies import classify_replies

    with warehouse.connect() as con:
        outcome = classify_replies(con, reply_store(), load_config())
    return dg.MaterializeResult(
        metadata={
            "model_version": outcome.model_version,
            "classified_this_run": outcome.classified,
            "dagster/row_count": outcome.total_for_version,
            "needs_human_share": _round(outcome.needs_human_share),
            **{f"class_{k}": v for k, v in sorted(outcome.class_counts.items())},
        }
    )


train_lead_scorer_job = dg.define_asset_job(
    name="train_lead_scorer",
    selection=dg.AssetSelection.assets(SCORER_KEY),
    description="Train a challenger lead scorer now (promoted only if not worse than the champion).",
    config={"ops": {"ml__lead_scorer": {"config": {"force": True}}}},
    tags={WAREHOUSE_RUN_TAG: "write"},
)

weekly_training = dg.ScheduleDefinition(
    name="weekly_lead_scorer_training",
    job=train_lead_scorer_job,
    cron_schedule="0 3 * * 1",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Retrain the lead scorer every Monday at 03:00 UTC.",
)
