"""Keeps every suite run in the warehouse table `quality.expectation_results` for the UI and consoles."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb

from expectations.suite import SuiteResult

RESULTS_TABLE = "quality.expectation_results"
WATERMARKS_TABLE = "quality.gate_watermarks"


def _ensure_watermarks(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS quality")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {WATERMARKS_TABLE} "
        "(suite VARCHAR PRIMARY KEY, validated_through TIMESTAMP, updated_at TIMESTAMP)"
    )


def read_watermark(con: duckdb.DuckDBPyConnection, suite: str) -> datetime | None:
    """Load time up to which a suite's rows passed validation (None: nothing validated yet)."""
    _ensure_watermarks(con)
    row = con.execute(f"SELECT validated_through FROM {WATERMARKS_TABLE} WHERE suite = ?", [suite]).fetchone()
    return row[0] if row else None


def advance_watermark(con: duckdb.DuckDBPyConnection, suite: str, validated_through: datetime) -> None:
    """Record that every row of the suite's table loaded up to `validated_through` passed."""
    _ensure_watermarks(con)
    con.execute(
        f"INSERT OR REPLACE INTO {WATERMARKS_TABLE} VALUES (?, ?, ?)",
        [suite, validated_through, datetime.now(UTC).replace(tzinfo=None)],
    )


def forget_watermarks(con: duckdb.DuckDBPyConnection, suites: list[str]) -> int:
    """Make the named suites check their whole table again next time (their table is being rebuilt)."""
    _ensure_watermarks(con)
    if not suites:
        return 0
    placeholders = ", ".join("?" * len(suites))
    forgotten = con.execute(f"SELECT count(*) FROM {WATERMARKS_TABLE} WHERE suite IN ({placeholders})", suites)
    count = forgotten.fetchone()[0]
    con.execute(f"DELETE FROM {WATERMARKS_TABLE} WHERE suite IN ({placeholders})", suites)
    return count


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
