"""Resources every Actionhouse asset can ask for."""

import dagster as dg

from orchestration.dbt import dbt_cli_resource
from orchestration.resources import WarehouseResource


@dg.definitions
def resources() -> dg.Definitions:
    """Bind the warehouse (from `ACTIONHOUSE_*` variables or defaults) and the dbt CLI."""
    return dg.Definitions(
        resources={"warehouse": WarehouseResource.from_environment(), "dbt": dbt_cli_resource()}
    )
