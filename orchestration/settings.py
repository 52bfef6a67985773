"""Where Actionhouse keeps its files, from environment variables with embedded defaults.

Everything defaults to the `data/` folder of the checkout so a fresh clone works with no configuration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DAGSTER_YAML_TEMPLATE = Path(__file__).resolve().parent / "dagster.yaml"

# Every write to the warehouse takes a slot of this pool / carries this run tag, so two refreshes
# never write the DuckDB file at once (DuckDB allows one writer process).
WAREHOUSE_POOL = "actionhouse_warehouse"
WAREHOUSE_RUN_TAG = "actionhouse/warehouse"
# The CRM Actionhouse reads from and syncs to (HubSpot or the sandbox); its token is never logged or shown.
CRM_BASE_URL_ENV = "ACTIONHOUSE_CRM_BASE_URL"
CRM_TOKEN_ENV = "ACTIONHOUSE_CRM_TOKEN"
# Requests per 10 seconds the CRM allows this app (HubSpot: 100 for a standard private app, 190 on Pro/Enterprise).
CRM_RATE_LIMIT_ENV = "ACTIONHOUSE_CRM_RATE_LIMIT"
DEFAULT_CRM_RATE_LIMIT = 100


def crm_rate_limit() -> int:
    """The CRM's request budget per 10 seconds from `ACTIONHOUSE_CRM_RATE_LIMIT` (default 100, HubSpot's)."""
    raw = os.environ.get(CRM_RATE_LIMIT_ENV, "").strip()
    if not raw:
        return DEFAULT_CRM_RATE_LIMIT
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{CRM_RATE_LIMIT_ENV} must be a whole number of requests per 10 seconds, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Paths:
    """Resolved locations of the embedded default's files."""

    data_dir: Path
    warehouse: Path
    landing_dir: Path
    truth_dir: Path
    dagster_home: Path


def resolve_paths() -> Paths:
    """Read the `ACTIONHOUSE_*` environment variables, falling back to `<checkout>/data/...`."""
    data_dir = Path(os.environ.get("ACTIONHOUSE_DATA_DIR", PROJECT_ROOT / "data")).resolve()
    return Paths(
        data_dir=data_dir,
        warehouse=Path(os.environ.get("ACTIONHOUSE_WAREHOUSE", data_dir / "warehouse.duckdb")).resolve(),
        landing_dir=Path(os.environ.get("ACTIONHOUSE_LANDING_DIR", data_dir / "landing")).resolve(),
        truth_dir=data_dir / "truth",
        dagster_home=Path(os.environ.get("DAGSTER_HOME", data_dir / "dagster_home")).resolve(),
    )


def prepare_dagster_home(paths: Paths) -> Path:
    """Create the Dagster instance folder with Actionhouse's instance settings (telemetry off, run limits)."""
    paths.dagster_home.mkdir(parents=True, exist_ok=True)
    target = paths.dagster_home / "dagster.yaml"
    template = DAGSTER_YAML_TEMPLATE.read_text()
    if not target.exists() or target.read_text() != template:
        target.write_text(template)
    return paths.dagster_home
