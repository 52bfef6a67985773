"""Resources every Actionhouse asset can ask for."""

import dagster as dg

from orchestration.dbt import dbt_cli_resource
from orchestration.resources import OpsStoreResource, WarehouseResource


@dg.definitions
def resources() -> dg.Definitions:
    """Bind the warehouse (from `ACTIONHOUSE_*` variables or defaults) and the dbt CLI.

    Every job runs its steps in one process, one after the other: the warehouse is a single DuckDB file
    with one writer, so parallel step processes would only queue on its lock (and pay imports each).
    """
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource.from_environment(),
            "ops_store": OpsStoreResource.from_environment(),
            "dbt": dbt_cli_resource(),
        },
        executor=dg.in_process_executor,
    )
