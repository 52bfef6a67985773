"""Opening the warehouse: UTC sessions, a held file waited for, zone-aware gate watermarks."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime

import duckdb
import pytest

from expectations.store import advance_watermark, read_watermark
from landing.warehouse import connect

HOLD = (
    "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
    "time.sleep(float(sys.argv[2]))"
)


def _hold(path, seconds: float) -> subprocess.Popen:
    """Another process holding the warehouse file (as a reader's duckdb shell would)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_sessions_run_in_utc(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        with connect(tmp_path / "w.duckdb") as con:
            assert con.execute("select current_setting('TimeZone')").fetchall() == [("UTC",)]
            local = con.execute("select timestamptz '2026-11-01 01:30:00-04:00'::timestamp").fetchall()[0][0]
        assert local == datetime(2026, 11, 1, 5, 30)  # the instant in UTC, not New York's repeated 1:30
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_a_held_file_is_waited_for_then_opened(tmp_path):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    holder = _hold(path, 1.5)
    waits: list[str] = []
    started = time.monotonic()
    with connect(path, on_wait=waits.append) as con:
        assert con.execute("select 1").fetchall() == [(1,)]
    holder.wait()
    assert time.monotonic() - started >= 1.0 and waits
    assert "held by another process" in waits[0]


def test_a_file_held_too_long_raises_the_lock_error(tmp_path):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    holder = _hold(path, 5)
    try:
        with pytest.raises(duckdb.IOException, match="lock"):
            connect(path, wait_seconds=0.5)
    finally:
        holder.kill()
        holder.wait()


def test_gate_watermarks_are_instants(tmp_path):
    with connect(tmp_path / "w.duckdb") as con:
        # A warehouse from before: naive watermarks, written as UTC.
        con.execute("create schema quality")
        con.execute(
            "create table quality.gate_watermarks (suite varchar primary key, validated_through timestamp, "
            "updated_at timestamp)"
        )
        con.execute("insert into quality.gate_watermarks values ('old', '2026-03-29 01:30:00', now()::timestamp)")
        assert read_watermark(con, "old") == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
        advance_watermark(con, "events", datetime(2026, 10, 25, 1, 30))  # naive load times are UTC
        assert read_watermark(con, "events") == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
        types = con.execute(
            "select distinct data_type from information_schema.columns where table_name = 'gate_watermarks' "
            "and column_name <> 'suite'"
        ).fetchall()
        assert types == [("TIMESTAMP WITH TIME ZONE",)]


def test_sessions_and_dbt_sessions_bound_duckdb_memory(tmp_path, monkeypatch):
    # DuckDB's own default (80% of RAM) let a 1M-contact refresh grow to ~16 GB caching warehouse pages.
    from landing.dbt_plugin import Plugin

    def limit(con) -> str:
        return con.execute("select current_setting('memory_limit')").fetchone()[0]

    con = connect(tmp_path / "w.duckdb")
    assert limit(con) == "3.7 GiB"  # the 4 GB default
    con.close()
    monkeypatch.setenv("ACTIONHOUSE_WAREHOUSE_MEMORY_LIMIT", "512MB")
    con = connect(tmp_path / "w.duckdb")
    assert limit(con) == "488.2 MiB"
    con.close()
    dbt_session = duckdb.connect()
    Plugin.__new__(Plugin).configure_connection(dbt_session)
    assert limit(dbt_session) == "488.2 MiB"
    monkeypatch.setenv("ACTIONHOUSE_WAREHOUSE_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="ACTIONHOUSE_WAREHOUSE_MEMORY_LIMIT must be an amount of memory"):
        connect(tmp_path / "w.duckdb")


def test_release_cached_pages_frees_the_page_cache_and_keeps_the_limit(tmp_path):
    # At 1M contacts the dbt build's cached pages were ~3 GB of its process when entity resolution began.
    from landing.warehouse import release_cached_pages

    def cached_mb(con) -> float:
        cached = "select sum(memory_usage_bytes) / 2^20 from duckdb_memory() where tag = 'BASE_TABLE'"
        return con.execute(cached).fetchone()[0]

    con = connect(tmp_path / "w.duckdb")
    con.execute("create table t as select range as id, range::varchar as label from range(3000000)")
    con.execute("checkpoint")
    total = con.execute("select sum(id), count(distinct label) from t").fetchone()
    assert cached_mb(con) > 8
    release_cached_pages(con, headroom_bytes=2**20)  # leaves no more than the headroom cached
    assert cached_mb(con) <= 1
    assert con.execute("select current_setting('memory_limit')").fetchone()[0] == "3.7 GiB"
    assert con.execute("select sum(id), count(distinct label) from t").fetchone() == total  # read again from disk
    before = cached_mb(con)
    release_cached_pages(con, headroom_bytes=2**40)  # fewer cached pages than the headroom: nothing to do
    assert cached_mb(con) == before
    assert con.execute("select count(*) from t").fetchall() == [(3000000,)]  # the session goes on being usable
    con.close()
