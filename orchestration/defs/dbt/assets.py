"""dbt models as Dagster assets: one `dbt build` per run, dbt tests shown as asset checks."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.dbt import actionhouse_dbt_project
from orchestration.defs.crm.assets import crm_api_asset_key
from orchestration.defs.crm.resources import crm_configured
from orchestration.metadata import frame_to_markdown
from orchestration.recovery import RUN_ID_ENV
from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL
from reverse_etl.crm.hubspot_mapping import API_RAW_SOURCES

PREVIEW_ROWS = 5
LAYER_BY_FOLDER = {"staging": "staging", "intermediate": "intermediate", "marts": "marts"}


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
BUILD_TARGET = Path(project.target_path) / "build"
# Parses only under `dagster dev`; the CLI, Makefile and tests prepare the manifest before loading.
project.prepare_if_dev()


@dbt_assets(
    manifest=project.manifest_path,
    project=project,
    dagster_dbt_translator=ActionhouseDbtTranslator(),
    pool=WAREHOUSE_POOL,
)
def actionhouse_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """Build (run + test) the selected dbt models, then add row counts and previews to what was built."""
    # dbt reads the warehouse path from its profile's env var; keep it equal to the resource's.
    os.environ["ACTIONHOUSE_WAREHOUSE"] = warehouse.database_path
    # dbt inherits the run's id: if this process is killed, the next refresh finds and stops the dbt it left.
    os.environ[RUN_ID_ENV] = context.run.run_id
    # Held back until dbt exits: the dbt process has the DuckDB file locked while it builds.
    # One fixed target folder: by default every invocation gets a new one (~18 MB each, hourly).
    events = list(dbt.cli(["build"], context=context, target_path=BUILD_TARGET).stream())
    with warehouse.connect(read_only=True) as con:
        for event in events:
            relation = _relation_of(event, context)
            yield event.with_metadata({**event.metadata, **_table_metadata(con, relation)}) if relation else event


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


def _table_metadata(con, relation: str) -> dict[str, Any]:
    parts = relation.split(".")
    table = ".".join(f'"{p}"' for p in parts[-2:])
    row_count = con.execute(f"select count(*) from {table}").fetchone()[0]
    preview = con.execute(f"select * from {table} limit {PREVIEW_ROWS}").df()
    return {"dagster/row_count": row_count, "preview": dg.MetadataValue.md(frame_to_markdown(preview))}
