"""Blocking quality gates: Great Expectations suites run on each stage's tables.

A failed gate (ERROR severity) keeps every asset downstream of the checked table from running in that
run; each run's per-expectation results are stored in `quality.expectation_results` and shown in the UI.
"""

import dagster as dg
from expectations.staging import STAGING_SCHEMA, STAGING_SUITES

from expectations.raw import RAW_SUITES
from expectations.store import store_suite_result
from expectations.suite import Suite, validate_dataframe
from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL


def _quote_table(table: str) -> str:
    return ".".join(f'"{part}"' for part in table.split("."))


def build_gate(asset_key: dg.AssetKey, suite: Suite, stage: str) -> dg.AssetChecksDefinition:
    """A blocking asset check that validates `suite.table` with `suite` and records the results."""

    @dg.asset_check(
        asset=asset_key,
        name=f"gate_{suite.name}",
        blocking=True,
        description=f"{stage.capitalize()} quality gate ({len(suite.expectations)} expectations on "
        f"{suite.table}); a failure stops everything downstream.",
        pool=WAREHOUSE_POOL,
    )
    def _gate(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        columns = ", ".join(f'"{c}"' for c in suite.columns)
        with warehouse.connect() as con:
            frame = con.execute(f"select {columns} from {_quote_table(suite.table)}").df()
            result = validate_dataframe(suite, frame)
            store_suite_result(con, result, stage=stage, run_id=context.run.run_id)
        for outcome in result.failed:
            context.log.warning(
                f"{suite.table}: {outcome.expectation} on {outcome.column} failed for "
                f"{outcome.unexpected_count} row(s)"
            )
        return dg.AssetCheckResult(
            passed=result.success,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "rows_checked": result.row_count,
                "expectations": len(result.outcomes),
                "failed_expectations": len(result.failed),
                "results": dg.MetadataValue.md(result.to_markdown()),
            },
        )

    return _gate


raw_gates = [build_gate(dg.AssetKey(["raw", name]), suite, "raw") for name, suite in RAW_SUITES.items()]
staging_gates = [build_gate(dg.AssetKey([STAGING_SCHEMA, model]), suite, "staging") for model, suite in STAGING_SUITES.items()]
