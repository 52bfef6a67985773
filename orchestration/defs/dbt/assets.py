"""dbt models as Dagster assets: one `dbt build` per run, dbt tests shown as asset checks, then source freshness."""

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from pydantic import Field

from expectations.golden import GOLDEN_SUITES
from expectations.staging import STAGING_SUITES
from expectations.store import forget_watermarks
from landing.freshness import check_source_freshness
from orchestration.background_imports import imported_meanwhile
from orchestration.dagster_storage import event_writes_synced_at_end
from orchestration.dbt import DBT_FILE_LOG, actionhouse_dbt_project, build_target_path
from orchestration.defs.crm.assets import crm_api_asset_key
from orchestration.defs.crm.resources import crm_configured
from orchestration.defs.ml.assets import SCORING_MODULES
from orchestration.metadata import tables_metadata
from orchestration.recovery import RUN_ID_ENV
from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL
from reverse_etl.crm.hubspot_mapping import API_RAW_SOURCES

LAYER_BY_FOLDER = {"staging": "staging", "intermediate": "intermediate", "marts": "marts"}
MODEL_SUITES_CHECKED_INCREMENTALLY = [
    suite.name for suite in (*STAGING_SUITES.values(), *GOLDEN_SUITES.values()) if suite.incremental_by
]


class DbtBuildConfig(dg.Config):
    """How the refresh runs `dbt build`: incrementally (the hourly default) or from scratch."""

    full_refresh: bool = Field(
        default=False,
        description="Rebuild every incremental and stateful model from scratch (`dbt build --full-refresh`): "
        "staged event streams, contact pairs and match parameters, record changes, clusters and risk history.",
    )


class ActionhouseDbtTranslator(DagsterDbtTranslator):
    """dbt sources map onto the ingest assets (`raw/<table>`); models are grouped by layer folder."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest["sources"].get(unique_id) or manifest["nodes"].get(unique_id) or {}
        if node.get("resource_type") == "source":
            return spec.replace_attributes(key=dg.AssetKey(["raw", node["identifier"]]))
        folder = node.get("fqn", [None, None])[1] if len(node.get("fqn", [])) > 2 else None
        group = "reference" if node.get("resource_type") == "seed" else LAYER_BY_FOLDER.get(folder, "models")
        spec = spec.replace_attributes(group_name=group, owners=["team:data-engineering"])
        if crm_configured():
            # The CRM API pulls append to the same raw tables the landing files fill: models reading those
            # tables depend on the pulls too, so a refresh (or a UI selection) runs them first.
            api_deps = [
                dg.AssetDep(crm_api_asset_key(object_type))
                for object_type, raw_table in API_RAW_SOURCES.items()
                if dg.AssetKey(["raw", raw_table]) in {dep.asset_key for dep in spec.deps}
            ]
            spec = spec.replace_attributes(deps=[*spec.deps, *api_deps])
        return spec


project = actionhouse_dbt_project()
BUILD_TARGET = build_target_path(project)
# Parses only under `dagster dev`; the CLI, Makefile and tests prepare the manifest before loading.
project.prepare_if_dev()


@dbt_assets(
    manifest=project.manifest_path,
    project=project,
    dagster_dbt_translator=ActionhouseDbtTranslator(),
    pool=WAREHOUSE_POOL,
)
def actionhouse_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, config: DbtBuildConfig
):
    """Build (run + test) the selected dbt models, then add row counts and column schemas
    (never rows: models such as dim_contacts are contact data) to what was built."""
    # dbt reads the warehouse path from its profile's env var; keep it equal to the resource's.
    os.environ["ACTIONHOUSE_WAREHOUSE"] = warehouse.database_path
    # dbt inherits the run's id: if this process is killed, the next refresh finds and stops the dbt it left.
    os.environ[RUN_ID_ENV] = context.run.run_id
    # Held back until dbt exits: the dbt process has the DuckDB file locked while it builds.
    # One fixed target folder: by default every invocation gets a new one (~18 MB each, hourly).
    # dbt's unit tests check model logic on fixed inputs, not the data: they run in `make test` / CI (dbt's advice),
    # not in every hourly build (19 more nodes, ~2-3 s of each refresh).
    args = ["build", *DBT_FILE_LOG, "--exclude-resource-type", "unit_test"]
    if config.full_refresh:
        args.append("--full-refresh")
        # Gates on incrementally staged models check only rows newer than their last pass: rebuilt, every row
        # is new again.
        with warehouse.connect() as con:
            forgotten = forget_watermarks(con, MODEL_SUITES_CHECKED_INCREMENTALLY)
        context.log.info(
            f"Full refresh: every incremental and stateful model is rebuilt from scratch; {forgotten} quality "
            "gate(s) will check their whole table again."
        )
    # This process mostly waits for dbt's: the scoring steps' libraries (~1 s of CPU) are imported meanwhile.
    with imported_meanwhile(SCORING_MODULES):
        events = list(dbt.cli(args, context=context, target_path=BUILD_TARGET).stream())
    relations = [_relation_of(event, context) for event in events]
    with warehouse.connect(read_only=True) as con:
        metadata = tables_metadata(con, [relation for relation in relations if relation])
    # ~600 events (an output and a materialization per model, an output and a check result per test), each a
    # commit in Dagster's event log: synced to disk once at the end instead of once each (same rows).
    with event_writes_synced_at_end(context.instance):
        for event, relation in zip(events, relations, strict=True):
            yield event.with_metadata({**event.metadata, **metadata[relation]}) if relation else event
    report_source_freshness(warehouse, context)


def report_source_freshness(warehouse: WarehouseResource, context: dg.AssetExecutionContext) -> dict[str, str]:
    """Check the raw tables' freshness against the thresholds declared in dbt and log each one loaded too long
    ago; status per source (`landing.freshness`: dbt's thresholds and statuses, queried in this process).

    Reported, not blocking: a late export is worth a warning, the rows already loaded are still good.
    Thresholds are in dbt_project.yml and the sources YAML (docs/operations.md "Freshness").
    """
    manifest = json.loads(Path(project.manifest_path).read_text())
    with warehouse.connect(read_only=True) as con:
        results = check_source_freshness(manifest, con)
    for result in results:
        if result.status in ("warn", "error"):
            hours = (result.age_seconds or 0) / 3600
            age = f"newest row loaded {hours:.1f} h ago" if result.age_seconds is not None else "no rows loaded yet"
            thresholds = {k: v for k, v in result.criteria.items() if k in ("warn_after", "error_after")}
            context.log.warning(f"source {result.source}: {age} ({result.status}; thresholds {thresholds})")
        elif result.status == "runtime error":
            context.log.warning(f"source {result.source}: freshness not checked ({result.message})")
    statuses = {result.source: result.status for result in results}
    counts = {status: list(statuses.values()).count(status) for status in sorted(set(statuses.values()))}
    context.log.info(f"source freshness: {counts}")
    return statuses


def _relation_of(event, context: dg.AssetExecutionContext) -> str | None:
    """`database.schema.table` that a dbt output event materialized (None for checks and seeds' tests)."""
    if isinstance(event, dg.Output):
        key = context.assets_def.keys_by_output_name.get(event.output_name)
    elif isinstance(event, dg.MaterializeResult) and event.asset_key:
        key = event.asset_key
    else:
        return None
    spec = context.assets_def.specs_by_key.get(key)
    table = spec.metadata.get("dagster/table_name") if spec else None
    return str(getattr(table, "value", table)).replace('"', "") if table else None
