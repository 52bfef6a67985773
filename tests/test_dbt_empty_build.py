"""The whole dbt project built on empty raw tables, with exports in another time zone than UTC.

A module of its own: under `make test` it runs beside `test_dbt_project.py`'s build (pytest-xdist runs a module's
tests on one worker)."""

from __future__ import annotations

import duckdb
from dbt_runner import create_dev_raw, run_dbt


def test_build_on_empty_raw_tables_in_other_timezone(tmp_path):
    warehouse = create_dev_raw(tmp_path / "empty.duckdb", empty=True)
    result = run_dbt(warehouse, tmp_path, "build", extra_env={"ACTIONHOUSE_EXPORT_TIMEZONE": "Europe/Berlin"})
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert con.execute("select count(*) from staging.stg_hubspot__contacts").fetchall() == [(0,)]
    finally:
        con.close()
