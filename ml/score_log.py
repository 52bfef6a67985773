"""Append score runs to a DuckDB score-log table; old runs stay queryable when the feature set changes."""

from __future__ import annotations

import polars as pl

DEFAULT_TABLE = "ml.score_log"

_DUCKDB_TYPES = {
    pl.Float64: "DOUBLE",
    pl.Float32: "FLOAT",
    pl.Int64: "BIGINT",
    pl.Int32: "INTEGER",
    pl.Int8: "TINYINT",
    pl.String: "VARCHAR",
    pl.Boolean: "BOOLEAN",
}


def _duckdb_type(dtype: pl.DataType) -> str:
    return _DUCKDB_TYPES.get(dtype.base_type(), "VARCHAR") if not isinstance(dtype, pl.String) else "VARCHAR"


def table_exists(con, table: str) -> bool:
    """Whether the warehouse has `table` (`schema.name`; no schema: `main`)."""
    schema, _, name = table.rpartition(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema or "main", name],
        ).fetchall()[0][0]
    )


def append_score_log(con, rows: pl.DataFrame, table: str = DEFAULT_TABLE) -> int:
    """Append `rows` (from `LeadScorer.score_log`) to `table`, creating it or adding new feature columns.

    Columns are matched by name; a column the table lacks is added (older runs read NULL there), a column the
    rows lack stays NULL for this run. A column that now arrives as text where the table holds another type
    (lead ids became golden ids like `gc-42`) is widened to text, so older runs keep their values as text.
    Returns the number of rows appended.
    """
    schema, _, name = table.rpartition(".")
    if schema:
        con.execute(f"create schema if not exists {schema}")
    arrow_rows = rows.to_arrow()  # noqa: F841 - read by DuckDB's replacement scan
    if not table_exists(con, table):
        con.execute(f"create table {table} as select * from arrow_rows")
        return rows.height
    have = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns where table_name = ? and table_schema = ?",
            [name, schema or "main"],
        ).fetchall()
    )
    for col, dtype in rows.schema.items():
        if col not in have:
            con.execute(f'alter table {table} add column "{col}" {_duckdb_type(dtype)}')
        elif dtype == pl.String and have[col] != "VARCHAR":
            con.execute(f'alter table {table} alter column "{col}" set data type varchar')
    con.execute(f"insert into {table} by name select * from arrow_rows")
    return rows.height
