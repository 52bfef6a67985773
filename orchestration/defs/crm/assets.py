"""API ingestion assets `crm_api/hubspot_<object>`: changed CRM records appended to the raw tables.

They exist only when `ACTIONHOUSE_CRM_BASE_URL` is set; without it the graph is exactly the CSV one.
Each asset appends into the raw table of the CSV path (e.g. `raw.hubspot_contacts`), whose asset key
stays with the landing loader; these are root steps, so a refresh runs them before dbt reads the tables.
"""

import dagster as dg
import httpx

from orchestration.defs.crm.resources import CrmResource, crm_configured, crm_problem
from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL, WAREHOUSE_RUN_TAG
from reverse_etl.crm.base import CrmError
from reverse_etl.crm.cursors import CursorStore
from reverse_etl.crm.hubspot_mapping import API_RAW_SOURCES
from reverse_etl.crm.ingest import API_OBJECT_TYPES, pull_to_raw

CRM_API_GROUP = "crm_api"
CRM_API_JOB_NAME = "crm_api_pull"
PULL_CHECK = "crm_pull_succeeded"
# A CRM that could not be reached is not tried again by the other pulls of the same run (when they run in
# one process): each would spend its retries (half a minute) to learn the same thing.
_unreachable: dict[tuple[str, str], str] = {}


def crm_api_asset_key(object_type: str) -> dg.AssetKey:
    """`crm_api/hubspot_contacts`, `crm_api/hubspot_tasks` etc."""
    return dg.AssetKey([CRM_API_GROUP, f"hubspot_{object_type}"])


def build_crm_api_asset(object_type: str) -> dg.AssetsDefinition:
    """The pull asset of one object type."""
    source = API_RAW_SOURCES[object_type]

    key = crm_api_asset_key(object_type)

    @dg.asset(
        key=key,
        group_name=CRM_API_GROUP,
        kinds={"hubspot", "duckdb"},
        owners=["team:data-engineering"],
        pool=WAREHOUSE_POOL,
        # Root steps run first in a refresh; the priority keeps them ahead of other ready steps.
        op_tags={"dagster/priority": "10"},
        tags={"layer": "raw"},
        description=f"{object_type.title()} changed in the CRM since the last pull (HubSpot search on the "
        f"last-modified date), appended to raw.{source} with `_source_file` = api:hubspot/{object_type}. "
        "The read cursor is kept in the operational store. When the CRM cannot be reached or refuses the "
        "token, the pull records the problem (its check fails) and the refresh goes on with the files.",
        check_specs=[
            dg.AssetCheckSpec(
                PULL_CHECK,
                asset=key,
                description="The CRM answered: this refresh read what changed there (non-blocking: an outage "
                "must not stop landing files from reaching published scores).",
            )
        ],
    )
    def _pull(context: dg.AssetExecutionContext, warehouse: WarehouseResource, crm: CrmResource):
        try:
            report, total = _pull_once(context, warehouse, crm, object_type)
        except (CrmError, httpx.HTTPError) as exc:
            problem = crm_problem(exc, crm.base_url)
            if not isinstance(exc, CrmError) or exc.status is None:
                _unreachable[(context.run.run_id, crm.base_url)] = problem
            return _pull_failed(context, object_type, problem)
        except _RecentlyUnreachable as exc:
            return _pull_failed(context, object_type, str(exc))
        return dg.MaterializeResult(
            metadata={
                "records_read": report.records_read,
                "rows_inserted": report.rows_inserted,
                "rows_quarantined": report.rows_quarantined,
                "rows_already_loaded": report.rows_already_loaded,
                "raw_table": report.raw_table,
                "api_rows_in_raw_table": total,
            },
            check_results=[dg.AssetCheckResult(check_name=PULL_CHECK, passed=True)],
        )

    return _pull


class _RecentlyUnreachable(Exception):
    """The CRM could not be reached by another pull a moment ago: not tried again in this refresh."""


def _pull_once(context: dg.AssetExecutionContext, warehouse: WarehouseResource, crm: CrmResource, object_type: str):
    seen = _unreachable.get((context.run.run_id, crm.base_url))
    if seen:
        raise _RecentlyUnreachable(f"not tried, another pull of this refresh found that it {seen}")
    cursors: CursorStore = crm.cursor_store()
    try:
        with crm.client() as client, warehouse.connect() as con:
            report = pull_to_raw(con, client, object_type, cursors, crm.connection_name, progress=context.log.info)
            total = con.execute(
                f"select count(*) from {report.raw_table} where _source_file = ?", [report.source_file]
            ).fetchall()[0][0]
    finally:
        cursors.close()
    return report, total


def _pull_failed(context: dg.AssetExecutionContext, object_type: str, problem: str) -> dg.MaterializeResult:
    """A pull the CRM did not answer: said in the log and by the failed check; nothing was read, the cursor
    stays, so the next refresh reads everything changed since the last good pull."""
    context.log.error(f"CRM pull of {object_type} failed: {problem}. The refresh goes on with the landing files.")
    return dg.MaterializeResult(
        metadata={"records_read": 0, "rows_inserted": 0, "crm_problem": problem},
        check_results=[
            dg.AssetCheckResult(
                check_name=PULL_CHECK,
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"problem": problem},
            )
        ],
    )


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
