"""The reply classes asset: the reply classifier's answers copied into `raw.reply_classes` for the outcome marts.

Wiring only; the copy is `ml.reply_classes`. Like `raw/decision_log` and `raw/lead_tiers`, the asset has no upstream
asset on purpose: it copies the classifications the previous refreshes made, at the start of a refresh, so the
outcome marts (dbt) can count positive replies in the same `dbt build` without a cycle through the `ml` assets,
which run after dbt.
"""

import dagster as dg

from ml.reply_classes import TABLE, copy_reply_classes
from orchestration.metadata import table_schema
from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL

REPLY_CLASSES_KEY = dg.AssetKey(["raw", "reply_classes"])


@dg.asset(
    key=REPLY_CLASSES_KEY,
    group_name="raw",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    owners=["team:data-engineering"],
    tags={"layer": "raw"},
    description=f"Every email reply classification (reply, class, model version), appended into {TABLE} from "
    "ml.reply_classifications at each refresh, only those not copied yet: how the outcome marts count positive "
    "replies without a cycle through the ml assets (docs/outcomes.md).",
)
def reply_classes(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Append the classifications made since the last copy."""
    with warehouse.connect() as con:
        report = copy_reply_classes(con)
        schema = table_schema(con, TABLE)
    context.log.info(f"reply classes: {report.new} classifications copied ({report.rows} in all)")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": report.rows,
            "new": report.new,
            "copied_at": report.copied_at.isoformat(),
            "dagster/column_schema": schema,
        }
    )
