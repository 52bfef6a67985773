"""The hourly refresh, and the sensor that starts one as soon as new landing files appear."""

import hashlib
import json
from pathlib import Path

import dagster as dg

from orchestration.settings import WAREHOUSE_RUN_TAG, resolve_paths

REFRESH_JOB_NAME = "refresh_warehouse"

refresh_warehouse = dg.define_asset_job(
    name=REFRESH_JOB_NAME,
    selection=dg.AssetSelection.all(),
    description="Load new landing files, then rebuild and re-check everything downstream of them.",
    # Runs carrying this tag are limited to one at a time by the instance (see orchestration/dagster.yaml).
    tags={WAREHOUSE_RUN_TAG: "write"},
)

FULL_REFRESH_JOB_NAME = "full_refresh_warehouse"
# Run config of a full refresh: `dbt build --full-refresh` (the dbt assets' `full_refresh` flag).
FULL_REFRESH_RUN_CONFIG = {"ops": {"actionhouse_dbt_models": {"config": {"full_refresh": True}}}}

full_refresh_warehouse = dg.define_asset_job(
    name=FULL_REFRESH_JOB_NAME,
    selection=dg.AssetSelection.all(),
    description="Like refresh_warehouse, but every incremental and stateful dbt model (staged event streams, "
    "contact pairs, match parameters, record changes, clusters, risk history) is rebuilt from scratch.",
    config=FULL_REFRESH_RUN_CONFIG,
    tags={WAREHOUSE_RUN_TAG: "write"},
)

hourly_refresh = dg.ScheduleDefinition(
    name="hourly_refresh",
    job=refresh_warehouse,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refresh the warehouse every hour on the hour.",
)


def landing_fingerprint(landing_dir: Path) -> dict[str, list[int]]:
    """Size and modification time of every landing file, keyed by its path inside the landing folder.

    The sensor compares these instead of opening the warehouse, which a running refresh holds locked.
    """
    if not landing_dir.exists():
        return {}
    return {
        str(p.relative_to(landing_dir)): [p.stat().st_size, p.stat().st_mtime_ns]
        for p in sorted(landing_dir.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


@dg.sensor(
    name="new_landing_files",
    job=refresh_warehouse,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts a refresh when files are added to (or changed in) the landing folder.",
)
def new_landing_files(context: dg.SensorEvaluationContext):
    """Request one refresh per change of the landing folder's contents."""
    current = landing_fingerprint(resolve_paths().landing_dir)
    previous = json.loads(context.cursor) if context.cursor else {}
    changed = sorted(name for name, stamp in current.items() if previous.get(name) != stamp)
    context.update_cursor(json.dumps(current))
    if not changed:
        return dg.SkipReason("No new landing files.")
    preview = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    context.log.info(f"{len(changed)} new or changed landing file(s): {preview}")
    digest = hashlib.sha256(json.dumps(current, sort_keys=True).encode()).hexdigest()[:16]
    return dg.RunRequest(run_key=f"landing-{digest}", tags={"actionhouse/trigger": "new_landing_files"})
