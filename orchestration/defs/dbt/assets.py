"""dbt models as Dagster assets: one `dbt build` per run, dbt tests shown as asset checks."""

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration.dbt import actionhouse_dbt_project
from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL

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
        return spec.replace_attributes(group_name=group, owners=["team:data-engineering"])


project = actionhouse_dbt_project()
# Parses only under `dagster dev`; the CLI, Makefile and tests prepare the manifest before loading.
project.prepare_if_dev()


@dbt_assets(
    manifest=project.manifest_path,
    project=project,
    dagster_dbt_translator=ActionhouseDbtTranslator(),
    pool=WAREHOUSE_POOL,
)
def actionhouse_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """Build (run + test) the selected dbt models against the warehouse."""
    # dbt reads the warehouse path from its profile's env var; keep it equal to the resource's.
    os.environ["ACTIONHOUSE_WAREHOUSE"] = warehouse.database_path
    yield from dbt.cli(["build"], context=context).stream()
