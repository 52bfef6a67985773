"""`loaded_since_last_run` and `versions_of_records_loaded_since_last_run` (dbt_project/macros/dedupe.sql), the hourly
filter of the incremental staging models: the raw rows loaded after the newest `_loaded_at` the model holds, found by
a filter DuckDB applies in the raw table's scan (the row groups loaded before skipped), with the same rows as the
comparison in TIMESTAMPTZ the models made before. Rendered from the macro file and run in DuckDB."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import jinja2

MACROS = Path(__file__).resolve().parents[1] / "dbt_project" / "macros" / "dedupe.sql"

# The filter as the staging models wrote it before: the raw `_loaded_at` made a TIMESTAMPTZ by the default's type.
TIMESTAMPTZ_FILTER = "where _loaded_at > (select coalesce(max(_loaded_at), '1900-01-01'::timestamptz) from staged)"


def _render(call: str) -> str:
    source = MACROS.read_text() + "{{ " + call + " }}"
    return jinja2.Environment().from_string(source).render(is_incremental=lambda: True, this="staged").strip()


def _warehouse() -> duckdb.DuckDBPyConnection:
    """300,000 raw rows a microsecond apart (three row groups), a wide column beside; the staged table holds the
    first 299,000 of them, so the last 1,000 (and the repeated last instant, loaded twice) are new."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(
        "create table raw as select i as id, '2026-12-07 21:54:58'::timestamp + to_microseconds(i) as _loaded_at,"
        " repeat('x', 200) as document from range(300000) as t(i)"
    )
    con.execute("insert into raw select id + 1000000, _loaded_at, document from raw where id = 298999")
    con.execute("create table staged as select * from raw where id < 299000")
    return con


def _raw_scan_rows(con: duckdb.DuckDBPyConnection, query: str, profile: Path) -> int:
    """How many rows the scan of `raw` handed on (the filter applied in the scan, not after it)."""
    con.execute(f"pragma enable_profiling = 'json'; pragma profiling_output = '{profile}'")
    con.execute(query).fetchall()
    con.execute("pragma disable_profiling")
    scans = []

    def walk(node: dict) -> None:
        if node.get("type") == "TABLE_SCAN" and node.get("extra_info", {}).get("Table", "").endswith(".raw"):
            scans.append(node["intermediate_rows"])
        for child in node.get("children", []):
            walk(child)

    for node in json.loads(profile.read_text())["operator"]:
        walk(node)
    return sum(scans)


def test_the_rows_loaded_since_are_those_of_the_timestamptz_comparison(tmp_path):
    con = _warehouse()
    condition = _render("loaded_since_last_run()")
    assert "timestamptz" not in condition
    new = con.execute(f"select id from raw {condition} order by id").fetchall()
    before = con.execute(f"select id from raw {TIMESTAMPTZ_FILTER} order by id").fetchall()
    assert new == before == [(i,) for i in range(299000, 300000)]
    # The row loaded at the newest staged instant again is not new (a strict comparison, to the microsecond).
    assert (1298999,) not in new
    # The filter is applied in the raw scan: only the new rows leave it.
    assert _raw_scan_rows(con, f"select * from raw {condition}", tmp_path / "profile.json") == 1000
    # Nothing staged yet: every raw row.
    con.execute("delete from staged")
    assert con.execute(f"select count(*) from raw {condition}").fetchone()[0] == 300001


def test_the_versions_of_records_loaded_since_are_those_of_the_timestamptz_comparison():
    con = _warehouse()
    # Older versions of some of the new records: every version of a record loaded since is read.
    con.execute(
        "insert into raw select id, '2026-01-01'::timestamp, 'older' from raw where id between 299000 and 299009"
    )
    query = _render("versions_of_records_loaded_since_last_run('raw', 'id')")
    before = query.split("where _loaded_at >")[0] + TIMESTAMPTZ_FILTER + "\n    )"
    new_rows = con.execute(f"select id, _loaded_at, document from ({query}) order by all").fetchall()
    assert new_rows == con.execute(f"select id, _loaded_at, document from ({before}) order by all").fetchall()
    assert len(new_rows) == 1000 + 10
