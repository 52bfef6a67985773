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
        "(suite VARCHAR PRIMARY KEY, validated_through TIMESTAMPTZ, updated_at TIMESTAMPTZ)"
    )
    # Watermarks were naive timestamps before; kept as instants now (written in UTC sessions, read as UTC).
    naive = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'quality' "
        "AND table_name = 'gate_watermarks' AND data_type = 'TIMESTAMP'"
    ).fetchall()[0][0]
    if naive:
        for column in ("validated_through", "updated_at"):
            con.execute(
                f"ALTER TABLE {WATERMARKS_TABLE} ALTER {column} TYPE TIMESTAMPTZ USING timezone('UTC', {column})"
            )


def _instant(value: datetime) -> datetime:
    """A load time as an aware UTC datetime (the raw tables' naive `_loaded_at` values are UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def read_watermark(con: duckdb.DuckDBPyConnection, suite: str) -> datetime | None:
    """Load time (aware, UTC) up to which a suite's rows passed validation (None: nothing validated yet)."""
    _ensure_watermarks(con)
    row = con.execute(f"SELECT validated_through FROM {WATERMARKS_TABLE} WHERE suite = ?", [suite]).fetchone()
    return _instant(row[0]) if row and row[0] is not None else None


def advance_watermark(con: duckdb.DuckDBPyConnection, suite: str, validated_through: datetime) -> None:
    """Record that every row of the suite's table loaded up to `validated_through` passed (a naive time is
    taken as UTC, like the raw tables' load times)."""
    _ensure_watermarks(con)
    con.execute(
        f"INSERT OR REPLACE INTO {WATERMARKS_TABLE} VALUES (?, ?, ?)",
        [suite, _instant(validated_through), datetime.now(UTC)],
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
