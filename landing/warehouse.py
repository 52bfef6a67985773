"""Opening the warehouse file: every session in UTC, and a file another process holds is waited for.

DuckDB lets one process write a database file, and a process reading it (someone's `duckdb` shell, a
notebook) also holds it. Rather than fail at once, `connect` retries with exponential backoff for up to
`ACTIONHOUSE_WAREHOUSE_LOCK_WAIT` seconds (default 120), saying what it waits for. Sessions run in UTC, so
timestamps with a time zone read and compare the same whatever the machine's zone is (a run in a repeated
daylight-saving hour included).

DuckDB keeps the warehouse's pages it has read in memory up to its memory limit, which by default is 80% of the
machine's RAM: at 1M contacts a refresh (and the dbt it starts) grew to ~16 GB that way. Every warehouse session
here, the dbt one included (`landing.dbt_plugin`), sets the limit to `ACTIONHOUSE_WAREHOUSE_MEMORY_LIMIT`
(default 4 GB); work larger than that spills to a temporary folder beside the warehouse file.

The pages stay cached up to that limit once read or written: by the time the dbt build's entity resolution runs,
the tables built before it hold ~3 GB of the dbt process, beside the Python models' frames. The models that
then hold the most (every record's features, ~7M candidate pairs) first let them go (`release_cached_pages`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import duckdb
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay, wait_exponential

LOCK_WAIT_ENV = "ACTIONHOUSE_WAREHOUSE_LOCK_WAIT"
DEFAULT_LOCK_WAIT_SECONDS = 120.0
MEMORY_LIMIT_ENV = "ACTIONHOUSE_WAREHOUSE_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "4GB"


def lock_wait_seconds() -> float:
    """How long to wait for a warehouse file another process holds (`ACTIONHOUSE_WAREHOUSE_LOCK_WAIT`)."""
    raw = os.environ.get(LOCK_WAIT_ENV, "").strip()
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_LOCK_WAIT_SECONDS
    except ValueError:
        raise ValueError(f"{LOCK_WAIT_ENV} must be a number of seconds, got {raw!r}") from None


def memory_limit() -> str:
    """DuckDB's memory limit for warehouse sessions (`ACTIONHOUSE_WAREHOUSE_MEMORY_LIMIT`, e.g. `4GB`, `512MB`)."""
    raw = os.environ.get(MEMORY_LIMIT_ENV, "").strip().replace(" ", "")
    if not raw:
        return DEFAULT_MEMORY_LIMIT
    if not re.fullmatch(r"(?i)\d+(\.\d+)?(b|kb|mb|gb|tb|kib|mib|gib|tib)", raw):
        raise ValueError(f"{MEMORY_LIMIT_ENV} must be an amount of memory such as 4GB or 512MB, got {raw!r}")
    return raw


def limit_memory(con: duckdb.DuckDBPyConnection) -> None:
    """Set the session's DuckDB memory limit (`memory_limit`; see the module docstring)."""
    con.execute(f"SET memory_limit = '{memory_limit()}'")


# What a release leaves to other sessions' work in the instant the lower limit holds.
RELEASE_HEADROOM_BYTES = 512 * 2**20


def release_cached_pages(con: duckdb.DuckDBPyConnection, headroom_bytes: int = RELEASE_HEADROOM_BYTES) -> None:
    """Drop the warehouse pages DuckDB keeps cached (`duckdb_memory()` tag BASE_TABLE) from memory, for a session
    limited by `limit_memory`: a dbt Python model about to hold large frames in the same process.

    DuckDB frees cached pages when its memory limit is lowered, so the limit is set for an instant to what is in
    use besides them (plus `headroom_bytes` for the database's other sessions), then back to `memory_limit`.
    Pages a running query holds are kept (DuckDB then keeps the old limit). The pages are on disk: a later read
    of them loads them again. Nothing is done when the cached pages are fewer than `headroom_bytes`."""
    used, cached = con.execute(
        "select coalesce(sum(memory_usage_bytes), 0), "
        "coalesce(sum(memory_usage_bytes) filter (where tag = 'BASE_TABLE'), 0) from duckdb_memory()"
    ).fetchall()[0]  # fetched to the end: the session is the model's, which goes on using it
    if cached <= headroom_bytes:
        return
    try:
        con.execute(f"SET memory_limit = '{int(used - cached + headroom_bytes)}B'")
    except duckdb.OutOfMemoryException:
        pass  # a running query holds more than that: nothing was changed
    finally:
        limit_memory(con)


def is_lock_conflict(error: BaseException) -> bool:
    """True for DuckDB's error when another process holds the database file."""
    return isinstance(error, duckdb.IOException) and "lock" in str(error).lower()


def connect(
    path: str | os.PathLike[str],
    read_only: bool = False,
    wait_seconds: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file in a UTC session, waiting (with backoff) while another process holds it.

    `on_wait` receives a line each time it waits (for a log); the lock error is raised once `wait_seconds`
    (default `lock_wait_seconds()`) have passed."""
    path = str(path)
    if not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)

    def say(state: RetryCallState) -> None:
        if on_wait:
            on_wait(
                f"the warehouse {path} is held by another process (a reader or another refresh); "
                f"trying again in {state.upcoming_sleep:.1f} s"
            )

    retrying = Retrying(
        retry=retry_if_exception(is_lock_conflict),
        wait=wait_exponential(multiplier=0.2, max=5.0),
        stop=stop_after_delay(lock_wait_seconds() if wait_seconds is None else wait_seconds),
        before_sleep=say,
        reraise=True,
    )
    con = retrying(duckdb.connect, path, read_only=read_only)
    # Set once open (the setting needs DuckDB's time zone extension, which loads with the connection).
    con.execute("SET TimeZone = 'UTC'")
    limit_memory(con)
    return con


def column_names(con, schema: str, table: str) -> set[str]:
    """Names of a warehouse table's columns (empty when it does not exist): how a dbt model reading its own
    previous state (`this`) finds out whether that state has what it needs."""
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return {name for (name,) in rows}


def previous_run(con, this, fingerprint: str, watermark: str):
    """(kept, newest): whether an incremental dbt Python model that stores `rules_fingerprint` and a `watermark`
    column can keep the rows its last run left (the table has both columns and every row was made under
    `fingerprint`), and the newest `watermark`. (False, None) when the table lacks the columns (a first build, or a
    table from before them); call it only when `dbt.is_incremental`."""
    if not {watermark, "rules_fingerprint"} <= column_names(con, this.schema, this.identifier):
        return False, None
    same, newest = con.execute(
        f"select bool_and(rules_fingerprint = ?), max({watermark}) from {this}", [fingerprint]
    ).fetchall()[0]
    return bool(same), newest


def rows_with_ids(con, relation: str, ids, id_columns: tuple[str, ...], select: str = "*"):
    """`select` of the rows of `relation` (a table, or a subquery in parentheses) whose `id_columns` (any of them)
    hold one of `ids` (a polars Series of integers), as a polars DataFrame: how an incremental dbt Python model
    reads only the rows of the hour's changed records instead of a whole table into Python."""
    import polars as pl

    wanted = pl.DataFrame({"id": ids.cast(pl.Int64).unique()}).to_arrow()
    view = "rows_with_ids__wanted"
    con.register(view, wanted)
    try:
        where = " or ".join(f"{column} in (select id from {view})" for column in id_columns)
        return con.sql(f"select {select} from {relation} where {where}").pl()
    finally:
        con.unregister(view)
