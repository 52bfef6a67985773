"""The decision log asset: the queue's actions copied into `raw.decision_log` for the outcome marts.

Wiring only; the copy is `actions.decision_log`. The asset has no upstream asset on purpose: it copies the queue as
the previous refreshes and syncs left it, at the start of a refresh, so the outcome marts (dbt) can read it in the
same `dbt build` without a cycle through the planner, which runs after dbt.
"""

import dagster as dg

from actions.decision_log import TABLE, copy_decision_log
from orchestration.metadata import table_schema
from orchestration.resources import OpsStoreResource, WarehouseResource
from orchestration.settings import WAREHOUSE_POOL

DECISION_LOG_KEY = dg.AssetKey(["raw", "decision_log"])


@dg.asset(
    key=DECISION_LOG_KEY,
    group_name="raw",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb", "sqlite"},
    owners=["team:data-engineering"],
    tags={"layer": "raw"},
    description=f"Every action of the decision queue, one row each (workflow, type, target, state — `held_out` for "
    f"the holdout group —, proposed, decided and first-sent times, when a sent merge was split, policy version), "
    f"kept in {TABLE} "
    "at each refresh (the actions written since the last copy read again; copied whole when the copy cannot follow "
    "on): the only path from the queue into the warehouse (docs/outcomes.md).",
)
def decision_log(context: dg.AssetExecutionContext, warehouse: WarehouseResource, ops_store: OpsStoreResource):
    """Bring the warehouse copy of the decision log to the queue as it is now."""
    with ops_store.engine_for_step() as engine, warehouse.connect() as con:
        report = copy_decision_log(engine, con)
        schema = table_schema(con, TABLE)
    how = "copied whole" if report.full else f"{report.changed} copied again"
    context.log.info(f"decision log: {report.rows} actions, {how} ({report.held_out} held out, {report.sent} sent)")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": report.rows,
            "held_out": report.held_out,
            "sent": report.sent,
            "split": report.split,
            "copied_at": report.copied_at.isoformat(),
            "copied_whole": report.full,
            "actions_copied": report.changed,
            "dagster/column_schema": schema,
        }
    )
