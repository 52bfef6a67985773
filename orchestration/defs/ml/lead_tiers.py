"""The lead tiers asset: each golden contact's first tier copied into `raw.lead_tiers` for the outcome marts.

Wiring only; the copy is `ml.lead_tiers`. Like `raw/decision_log`, the asset has no upstream asset on purpose: it
copies the tiers the previous refreshes scored, at the start of a refresh, so the outcome marts (dbt) can group
leads by tier in the same `dbt build` without a cycle through the `ml` assets, which run after dbt.
"""

import dagster as dg

from ml.lead_tiers import TABLE, copy_lead_tiers
from orchestration.metadata import table_schema
from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL

LEAD_TIERS_KEY = dg.AssetKey(["raw", "lead_tiers"])


@dg.asset(
    key=LEAD_TIERS_KEY,
    group_name="raw",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    owners=["team:data-engineering"],
    tags={"layer": "raw"},
    description=f"Each golden contact's tier at its first scoring (1-3), one row each, copied into {TABLE} from "
    "the published scores at each refresh: how the outcome marts split leads by tier without a cycle through the "
    "ml assets (docs/outcomes.md).",
)
def lead_tiers(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Replace the warehouse copy of the lead tiers: first tiers kept, new golden contacts added."""
    with warehouse.connect() as con:
        report = copy_lead_tiers(con)
        schema = table_schema(con, TABLE)
    context.log.info(f"lead tiers: {report.rows} golden contacts ({report.new} scored for the first time)")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": report.rows,
            "new": report.new,
            "copied_at": report.copied_at.isoformat(),
            "dagster/column_schema": schema,
        }
    )
