"""Append score runs to a DuckDB score-log table; old runs stay queryable when the feature set changes.

Every run logs every lead (a million leads: ~110 MB of warehouse a run, ~2.6 GB a day of hourly runs), so the log
keeps the runs of a window (`ACTIONHOUSE_SCORE_LOG_DAYS`, default 7 days before its latest run) and drops older
runs whole (`prune_score_log`); `all` keeps every run. Blocks freed by a dropped run are reused by the next runs, so
the warehouse file stops growing once the window is full.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import NamedTuple

import polars as pl

DEFAULT_TABLE = "ml.score_log"
KEEP_DAYS_ENV = "ACTIONHOUSE_SCORE_LOG_DAYS"
DEFAULT_KEEP_DAYS = 7.0  # a week of hourly runs: "why did this lead's score change since Monday?"

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
    # Polars' own string layout (Arrow string views), read by DuckDB as it is: no copy of every text into
    # large strings first (the reasons are most of a run's bytes). Read by DuckDB's replacement scan.
    arrow_rows = rows.to_arrow(compat_level=pl.CompatLevel.newest())  # noqa: F841
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


def keep_days() -> float | None:
    """Days of scoring runs the score log keeps, counted back from its latest run (`ACTIONHOUSE_SCORE_LOG_DAYS`,
    default 7; `all`: every run, the log is never pruned). A value that is not a positive number is an error."""
    raw = os.environ.get(KEEP_DAYS_ENV, "").strip()
    if not raw:
        return DEFAULT_KEEP_DAYS
    if raw.lower() == "all":
        return None
    try:
        days = float(raw)
    except ValueError:
        days = float("nan")
    if not days > 0:  # also NaN
        raise ValueError(f"{KEEP_DAYS_ENV} must be a number of days above 0, or 'all', got {raw!r}")
    return days


class PruneReport(NamedTuple):
    """What `prune_score_log` dropped."""

    runs: int  # runs dropped
    rows: int  # rows those runs had


def prune_score_log(
    con, days: float | None, table: str = DEFAULT_TABLE, keep_run_ids: Iterable[str | None] = ()
) -> PruneReport:
    """Drop every run scored more than `days` before the log's latest run, whole, except `keep_run_ids` (the runs
    the published scores come from: a run is never pruned from under them). `days=None` drops nothing."""
    if days is None or not table_exists(con, table):
        return PruneReport(0, 0)
    kept = {run_id for run_id in keep_run_ids if run_id is not None}
    # Only a run holding a row older than the cut-off can be older than it as a whole. Those runs are found by
    # `scored_at`'s row-group statistics (a run or two an hour), then counted and judged on all of their rows by
    # id: the whole week's log is not grouped by run. Rows without a run id are one group, as in a grouping of
    # every row.
    cutoff = f"(select max(scored_at) from {table}) - to_microseconds(cast(? as bigint))"
    window = round(days * 86_400 * 1_000_000)
    candidates = [
        row[0]
        for row in con.execute(f"select distinct run_id from {table} where scored_at < {cutoff}", [window]).fetchall()
    ]
    if not candidates:
        return PruneReport(0, 0)
    ids = [run_id for run_id in candidates if run_id is not None]
    runs = [f"run_id in ({', '.join('?' for _ in ids)})"] if ids else []
    if len(ids) < len(candidates):
        runs.append("run_id is null")
    old = con.execute(
        f"""
        select run_id, count(*) from {table}
        where {" or ".join(runs)}
        group by run_id
        having max(scored_at) < {cutoff}
        order by run_id
        """,
        [*ids, window],
    ).fetchall()
    old = [(run_id, rows) for run_id, rows in old if run_id not in kept]
    if not old:
        return PruneReport(0, 0)
    run_ids = [run_id for run_id, _ in old]
    con.execute(f"delete from {table} where run_id in ({', '.join('?' for _ in run_ids)})", run_ids)
    return PruneReport(len(run_ids), sum(rows for _, rows in old))
