"""Lead scoring in Dagster: weekly / on-demand training, scoring in every (hourly) refresh, a blocking drift
check, and publishing the scores only when the run passed its drift check and quality gate.

All logic lives in `ml.pipeline`; this module only wires it to the warehouse and reports metadata.
"""

import os
from pathlib import Path

import dagster as dg

from ml.config import load_config
from ml.drift import drift_verdict
from ml.metrics import calibration_markdown, tier_markdown
from ml.pipeline import latest_run_id, publish_scores, run_drift, run_size, score_and_log, train_and_register
from ml.registry import ModelRegistry
from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL, WAREHOUSE_RUN_TAG, resolve_paths

SCORER_KEY = dg.AssetKey(["ml", "lead_scorer"])
SCORE_LOG_KEY = dg.AssetKey(["ml", "score_log"])
PUBLISHED_KEY = dg.AssetKey(["ml", "lead_scores"])
STAGING_INPUTS = [
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
]


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
    deps=STAGING_INPUTS,
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
    deps=[SCORER_KEY, *STAGING_INPUTS],
    group_name="ml",
    pool=WAREHOUSE_POOL,
    kinds={"python", "duckdb"},
    owners=["team:revops"],
    description="Append-only score log (ml.score_log): per lead and run, model version, exact feature "
    "values (f_* columns), fit / intent / combined scores 0-100, tier and reasons.",
)
def score_log(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Score every lead with the champion (or the rules fallback) and append the run to the log."""
    registry = ModelRegistry(models_dir())
    with warehouse.connect() as con:
        outcome = score_and_log(con, registry, load_config(), run_id=context.run.run_id)
    if outcome.model_kind == "rules":
        context.log.warning(f"scored with the ICP rules fallback: {outcome.fallback_reason}")
    return dg.MaterializeResult(
        metadata={
            "run_id": outcome.run_id,
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
    "above 0.1, blocks publishing above 0.25.",
)
def score_drift(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Compare the latest scoring run with its model's training reference."""
    config = load_config()
    with warehouse.connect() as con:
        run_id = latest_run_id(con)
        report = run_drift(con, ModelRegistry(models_dir()), config, run_id) if run_id else None
        rows = run_size(con, run_id) if run_id else 0
    verdict, message = drift_verdict(report, rows, config["drift"])
    context.log.info(f"drift: {verdict}: {message}")
    metadata = {"verdict": verdict, "message": message, "run_id": run_id or "", "leads": rows}
    if report is not None and not report.is_empty():
        metadata["max_psi"] = float(report["psi"].max())
        metadata["psi"] = dg.MetadataValue.md(
            "| column | psi | status |\n|---|---|---|\n"
            + "\n".join(f"| {r['column']} | {r['psi']:.4f} | {r['status']} |" for r in report.iter_rows(named=True))
        )
    severity = dg.AssetCheckSeverity.ERROR if verdict == "block" else dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(passed=verdict in ("ok", "too_few_rows"), severity=severity, metadata=metadata)


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
    """Publish the latest logged run."""
    with warehouse.connect() as con:
        run_id = latest_run_id(con)
        rows = publish_scores(con, run_id) if run_id else 0
    return dg.MaterializeResult(metadata={"run_id": run_id or "", "dagster/row_count": rows})


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
