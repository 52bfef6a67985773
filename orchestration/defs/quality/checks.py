"""Blocking quality gates: Great Expectations suites run on each stage's tables.

One gate per table, all gates of a stage in one step (Great Expectations and the warehouse are opened
once); rows are validated in bounded chunks and uniqueness in SQL (`expectations.chunked`), so a gate's
memory does not grow with its table. A failed gate (ERROR severity) keeps every asset downstream of its table
from running in that run; each run's per-expectation results are stored in `quality.expectation_results` and
shown in the UI.
"""

from collections.abc import Iterator
from datetime import datetime

import dagster as dg
import duckdb

from expectations.chunked import DEFAULT_CHUNK_ROWS, quote_table, validate_table
from expectations.raw import RAW_SUITES
from expectations.staging import STAGING_SCHEMA, STAGING_SUITES
from expectations.store import advance_watermark, read_watermark, store_suite_result
from expectations.suite import Suite, SuiteResult
from orchestration.metadata import masked_examples, suite_result_markdown
from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL


def gate_check_name(suite: Suite) -> str:
    """Name of the gate check for a suite, as shown in the UI."""
    return f"gate_{suite.name}"


def _rows_to_validate(con, suite: Suite) -> tuple[str | None, list, datetime | None]:
    """Which rows a gate must check now (a filter and its parameters; None: the whole table), and the load
    time they reach (for the next run's watermark)."""
    if not suite.incremental_by:
        return None, [], None
    load_time = f'"{suite.incremental_by}"'
    # Read first: a row loaded meanwhile is then checked now and again next run, never skipped.
    reached = con.execute(f"select max({load_time}) from {quote_table(suite.table)}").fetchone()[0]
    watermark = read_watermark(con, suite.name)
    if watermark is None:
        return None, [], reached
    return f"{load_time} is null or {load_time} > {_watermark_sql(con, suite)}", [watermark], reached


# Time zone names whose offset is zero at every instant.
_UTC_ZONES = frozenset(
    {"utc", "etc/utc", "uct", "etc/uct", "universal", "etc/universal", "zulu", "etc/zulu", "gmt", "etc/gmt", "gmt0"}
    | {"etc/gmt0", "gmt+0", "etc/gmt+0", "gmt-0", "etc/gmt-0", "greenwich", "etc/greenwich"}
)


def _watermark_sql(con, suite: Suite) -> str:
    """The watermark (an instant, TIMESTAMPTZ) as the load time column is compared with it.

    A plain TIMESTAMP column (the raw and staging `_loaded_at`, the score log's `scored_at`) compared with an
    instant is cast to TIMESTAMPTZ row by row: DuckDB then reads every row group of the table (at a week of
    hourly score runs, 150M rows, ~1 s of CPU for two queries). In a UTC session that cast adds no offset, so
    comparing the column with the watermark cast once to TIMESTAMP picks the same rows, and row groups wholly at
    or before the watermark are skipped by their statistics. Any other column type or session zone: as before."""
    schema, _, name = suite.table.rpartition(".")
    try:
        column_type = con.execute(
            "select data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? and column_name = ?",
            [schema or "main", name, suite.incremental_by],
        ).fetchone()
        zone = con.execute("select current_setting('TimeZone')").fetchone()
    except duckdb.Error:  # no time zone setting (DuckDB without ICU): compared as before
        return "?"
    plain = column_type is not None and column_type[0] == "TIMESTAMP"
    return "cast(? as timestamp)" if plain and zone is not None and str(zone[0]).lower() in _UTC_ZONES else "?"


def run_gate_suite(con, suite: Suite, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> tuple[SuiteResult, datetime | None]:
    """Validate the rows a gate must check now, streamed in chunks of at most `chunk_rows` rows (bounded
    memory at any table size); returns the result and the load time the checked rows reach."""
    where, params, validated_through = _rows_to_validate(con, suite)
    result = validate_table(
        con, suite, where, params, chunk_rows=chunk_rows, sets_over_whole_table=suite.keys_over_whole_table
    )
    return result, validated_through


def build_stage_gates(stage: str, suites: dict[dg.AssetKey, Suite]) -> dg.AssetChecksDefinition:
    """One blocking check per table of a stage, run together in one step."""
    specs = [
        dg.AssetCheckSpec(
            gate_check_name(suite),
            asset=key,
            blocking=True,
            description=f"{stage.capitalize()} quality gate: {len(suite.expectations)} expectations on "
            f"{suite.table}; a failure stops everything downstream.",
        )
        for key, suite in suites.items()
    ]
    suite_by_check = {dg.AssetCheckKey(key, gate_check_name(suite)): suite for key, suite in suites.items()}

    @dg.multi_asset_check(
        name=f"{stage}_quality_gates",
        specs=specs,
        can_subset=True,
        pool=WAREHOUSE_POOL,
        compute_kind="great_expectations",
    )
    def _gates(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.AssetCheckResult]:
        with warehouse.connect() as con:
            for check_key in sorted(context.selected_asset_check_keys, key=lambda k: k.to_user_string()):
                suite = suite_by_check[check_key]
                result, validated_through = run_gate_suite(con, suite)
                store_suite_result(con, result, stage=stage, run_id=context.run.run_id)
                if result.success and validated_through is not None:
                    advance_watermark(con, suite.name, validated_through)
                for outcome in result.failed:
                    context.log.warning(
                        f"{suite.table}: {outcome.expectation} on {outcome.column} failed for "
                        f"{outcome.unexpected_count} row(s), e.g. {masked_examples(outcome.failing_examples)} (masked; "
                        f"the values are in quality.expectation_results)"
                    )
                yield dg.AssetCheckResult(
                    asset_key=check_key.asset_key,
                    check_name=check_key.name,
                    passed=result.success,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={
                        "rows_checked": result.row_count,
                        "scope": "rows loaded since the last passing run" if suite.incremental_by else "whole table",
                        "expectations": len(result.outcomes),
                        "failed_expectations": len(result.failed),
                        "results": dg.MetadataValue.md(suite_result_markdown(result)),
                    },
                )

    return _gates


raw_quality_gates = build_stage_gates("raw", {dg.AssetKey(["raw", name]): suite for name, suite in RAW_SUITES.items()})
staging_quality_gates = build_stage_gates(
    "staging", {dg.AssetKey([STAGING_SCHEMA, model]): suite for model, suite in STAGING_SUITES.items()}
)
