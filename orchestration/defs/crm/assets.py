"""API ingestion assets `crm_api/hubspot_<object>`: changed CRM records appended to the raw tables.

They exist only when `ACTIONHOUSE_CRM_BASE_URL` is set; without it the graph is exactly the CSV one.
Each asset appends into the raw table of the CSV path (e.g. `raw.hubspot_contacts`), whose asset key
stays with the landing loader; these are root steps, so a refresh runs them before dbt reads the tables.
"""

import dagster as dg

from orchestration.defs.crm.resources import CrmResource, crm_configured
from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL, WAREHOUSE_RUN_TAG
from reverse_etl.crm.cursors import CursorStore
from reverse_etl.crm.hubspot_mapping import API_RAW_SOURCES
from reverse_etl.crm.ingest import API_OBJECT_TYPES, pull_to_raw

CRM_API_GROUP = "crm_api"
CRM_API_JOB_NAME = "crm_api_pull"


def crm_api_asset_key(object_type: str) -> dg.AssetKey:
    """`crm_api/hubspot_contacts`, `crm_api/hubspot_tasks` etc."""
    return dg.AssetKey([CRM_API_GROUP, f"hubspot_{object_type}"])


def build_crm_api_asset(object_type: str) -> dg.AssetsDefinition:
    """The pull asset of one object type."""
    source = API_RAW_SOURCES[object_type]

    @dg.asset(
        key=crm_api_asset_key(object_type),
        group_name=CRM_API_GROUP,
        kinds={"hubspot", "duckdb"},
        owners=["team:data-engineering"],
        pool=WAREHOUSE_POOL,
        # Root steps run first in a refresh; the priority keeps them ahead of other ready steps.
        op_tags={"dagster/priority": "10"},
        tags={"layer": "raw"},
        description=f"{object_type.title()} changed in the CRM since the last pull (HubSpot search on the "
        f"last-modified date), appended to raw.{source} with `_source_file` = api:hubspot/{object_type}. "
        "The read cursor is kept in the operational store.",
    )
    def _pull(context: dg.AssetExecutionContext, warehouse: WarehouseResource, crm: CrmResource):
        cursors: CursorStore = crm.cursor_store()
        try:
            with crm.client() as client, warehouse.connect() as con:
                report = pull_to_raw(con, client, object_type, cursors, crm.connection_name, progress=context.log.info)
                total = con.execute(
                    f"select count(*) from {report.raw_table} where _source_file = ?", [report.source_file]
                ).fetchall()[0][0]
        finally:
            cursors.close()
        return dg.MaterializeResult(
            metadata={
                "records_read": report.records_read,
                "rows_inserted": report.rows_inserted,
                "rows_already_loaded": report.rows_already_loaded,
                "raw_table": report.raw_table,
                "api_rows_in_raw_table": total,
            }
        )

    return _pull


def build_crm_api_definitions() -> dg.Definitions:
    """The pull assets, their resource and a job that runs only them (`crm_api_pull`)."""
    return dg.Definitions(
        assets=[build_crm_api_asset(t) for t in API_OBJECT_TYPES],
        resources={"crm": CrmResource.from_environment()},
        jobs=[
            dg.define_asset_job(
                name=CRM_API_JOB_NAME,
                selection=dg.AssetSelection.groups(CRM_API_GROUP),
                description="Pull changed contacts, companies, deals, tasks and notes from the CRM into raw tables.",
                tags={WAREHOUSE_RUN_TAG: "write"},
            )
        ],
    )


@dg.definitions
def crm_api_ingestion() -> dg.Definitions:
    """API ingestion when a CRM is configured (`ACTIONHOUSE_CRM_BASE_URL`); nothing otherwise."""
    return build_crm_api_definitions() if crm_configured() else dg.Definitions()
