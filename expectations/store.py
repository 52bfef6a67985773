"""Keeps every suite run in the warehouse table `quality.expectation_results` for the UI and consoles."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb

from expectations.suite import SuiteResult

RESULTS_TABLE = "quality.expectation_results"


def store_suite_result(con: duckdb.DuckDBPyConnection, result: SuiteResult, stage: str, run_id: str) -> int:
    """Append one row per expectation of `result`; returns the number of rows written."""
    con.execute("CREATE SCHEMA IF NOT EXISTS quality")
    con.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {RESULTS_TABLE} (
            run_id VARCHAR, checked_at TIMESTAMP, stage VARCHAR, suite VARCHAR, table_name VARCHAR,
            row_count BIGINT, expectation VARCHAR, column_name VARCHAR, arguments JSON, success BOOLEAN,
            unexpected_count BIGINT, unexpected_percent DOUBLE, failing_examples JSON
        )
        """
    )
    checked_at = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        (
            run_id,
            checked_at,
            stage,
            result.suite,
            result.table,
            result.row_count,
            o.expectation,
            o.column,
            json.dumps(o.kwargs, default=str),
            o.success,
            o.unexpected_count,
            o.unexpected_percent,
            json.dumps(o.failing_examples, default=str),
        )
        for o in result.outcomes
    ]
    if rows:
        con.executemany(f"INSERT INTO {RESULTS_TABLE} VALUES ({', '.join(['?'] * 13)})", rows)
    return len(rows)
