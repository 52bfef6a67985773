"""One way to wire the copies the outcome marts read from the `ml` assets' previous runs (`raw/lead_tiers`,
`raw/reply_classes`): an asset with no upstream asset, run at the start of a refresh, so dbt can read what the `ml`
assets (which run after dbt) made without a cycle. Wiring only; each copy is a function of the `ml` package."""

from collections.abc import Callable

import dagster as dg

from orchestration.metadata import table_schema
from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL


def copy_asset(
    *, key: dg.AssetKey, table: str, copy: Callable, description: str, summary: Callable[[object], str]
) -> dg.AssetsDefinition:
    """The asset running `copy(con)` (its report has `rows`, `new`, `copied_at`) into `table`, logging
    `summary(report)` and reporting the row count, the rows new in this copy and the table's columns."""

    @dg.asset(
        key=key,
        group_name="raw",
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        owners=["team:data-engineering"],
        tags={"layer": "raw"},
        description=description,
    )
    def _copy(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.connect() as con:
            report = copy(con)
            schema = table_schema(con, table)
        context.log.info(summary(report))
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": report.rows,
                "new": report.new,
                "copied_at": report.copied_at.isoformat(),
                "dagster/column_schema": schema,
            }
        )

    return _copy
