"""The `unique_combination` generic test (dbt_project/tests/generic) reports exactly what grouping by the columns
reports: its first pass groups by a hash of the combination only to find candidates faster. With `written_at`, on a
table written by several runs it checks the combinations of the latest run's rows against the whole table; so does
`unique_by_latest_write` (dbt's `unique` otherwise) for one column, and `is_normalized_email` checks only that run's
rows."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import jinja2
import pytest

GENERIC_TESTS = Path(__file__).resolve().parents[1] / "dbt_project" / "tests" / "generic"
TEST_FILE = GENERIC_TESTS / "test_unique_combination.sql"


class _Table:
    """What dbt's `run_query` returns, as far as the test reads it: `.columns[i].values()`."""

    def __init__(self, rows: list[tuple]):
        self.columns = [_Column([row[i] for row in rows]) for i in range(len(rows[0]) if rows else 0)]


class _Column:
    def __init__(self, values: list):
        self._values = values

    def values(self) -> list:
        return self._values


def _render_test(
    path: Path, signature: str, con: duckdb.DuckDBPyConnection | None = None, **arguments: object
) -> str:
    """The SQL of the generic test in `path` (its `{% test <signature> %}` block), as dbt renders it at execution."""
    body = re.search(r"\{% test " + re.escape(signature) + r" %\}(.*)\{% endtest %\}", path.read_text(), re.S)
    assert body, f"the test block of {path.name}"
    return jinja2.Template(body.group(1)).render(
        **arguments,
        execute=True,
        run_query=lambda sql: _Table(con.execute(sql).fetchall()),
        regex_full_match=lambda column, regex: f"regexp_full_match({column}, '{regex}')",
        email_regex=lambda: "[a-z0-9._%+-]+@[a-z0-9.-]+[.][a-z]+",
    )


def _render(model: str, columns: list[str], con: duckdb.DuckDBPyConnection | None = None, written_at=None) -> str:
    signature = "unique_combination(model, columns, written_at=none)"
    return _render_test(TEST_FILE, signature, con, model=model, columns=columns, written_at=written_at)


def _by_grouping(con: duckdb.DuckDBPyConnection, columns: list[str]) -> list[tuple]:
    keys = ", ".join(columns)
    return sorted(
        con.execute(f"select {keys}, count(*) from t group by {keys} having count(*) > 1").fetchall(), key=str
    )


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [("a", 1, "x"), ("a", 2, "x"), ("b", 1, "x")],  # unique
        [("a", 1, "x"), ("a", 1, "x"), ("a", 1, "y"), ("b", 2, None), ("b", 2, None), ("b", 2, None)],
        [(None, None, None), (None, None, None), ("a|b", 1, "c"), ("a", 1, "b|c")],  # NULLs group together
    ],
)
def test_reports_every_repeated_combination_and_nothing_else(rows):
    con = duckdb.connect()
    con.execute("create table t (entity_id varchar, n integer, source varchar)")
    if rows:
        con.executemany("insert into t values (?, ?, ?)", rows)
    columns = ["entity_id", "n", "source"]
    found = sorted(con.execute(_render("t", columns)).fetchall(), key=str)
    assert found == _by_grouping(con, columns)
    assert len(found) == {0: 0, 3: 0, 6: 2, 4: 1}[len(rows)]


def test_many_rows_with_a_few_repeats():
    con = duckdb.connect()
    con.execute(
        "create table t as select 'e' || (i % 50000) as entity_id, i // 50000 as n, 'crm' as source "
        "from range(200000) t(i)"
    )
    con.execute("insert into t select entity_id, n, source from t where n = 3 and entity_id like '%7'")
    found = sorted(con.execute(_render("t", ["entity_id", "n", "source"])).fetchall(), key=str)
    assert found == _by_grouping(con, ["entity_id", "n", "source"]) and len(found) == 5000


def _written_by_runs(con: duckdb.DuckDBPyConnection, runs: list[list[tuple]]) -> None:
    """Table t written by several runs: run i's rows stamped with hour i (the latest run the largest stamp)."""
    con.execute("create table t (entity_id varchar, n integer, written_at timestamp)")
    for hour, rows in enumerate(runs):
        if not rows:
            continue
        con.executemany(
            "insert into t values (?, ?, timestamp '2026-12-06 00:00:00' + to_hours(?))",
            [(*row, hour) for row in rows],
        )


def test_with_written_at_a_duplicate_the_latest_run_brought_fails():
    con = duckdb.connect()
    # The hour repeats an earlier run's key (e7) and one of its own (h1); NULL keys group together as above.
    _written_by_runs(
        con,
        [
            [(f"e{i}", 1) for i in range(1000)] + [(None, None)],
            [("e7", 1), ("h1", 1), ("h1", 1), ("h2", 2), (None, None)],
        ],
    )
    found = sorted(con.execute(_render("t", ["entity_id", "n"], con, "written_at")).fetchall(), key=str)
    assert found == [("e7", 1, 2), ("h1", 1, 2), (None, None, 2)]


def test_with_written_at_only_the_latest_runs_keys_are_checked():
    con = duckdb.connect()
    # A duplicate among earlier runs' rows only (e3) was the earlier run's to report; the latest run brought none.
    _written_by_runs(con, [[("e1", 1), ("e3", 1)], [("e3", 1), ("e4", 1)], [("h1", 1), ("e4", 2)]])
    assert con.execute(_render("t", ["entity_id", "n"], con, "written_at")).fetchall() == []


@pytest.mark.parametrize("stamp", ["one", "none", "empty"])
def test_with_written_at_one_run_checks_the_whole_table(stamp):
    """A first build or a full refresh stamps every row alike (rows of before the column existed have none)."""
    con = duckdb.connect()
    rows = [] if stamp == "empty" else [("a", 1), ("a", 1), ("b", 2), ("c", 3), ("c", 3), (None, None), (None, None)]
    _written_by_runs(con, [rows])
    if stamp == "none":
        con.execute("update t set written_at = NULL")
        con.execute("insert into t values ('d', 4, timestamp '2026-12-06 05:00:00')")
    sql = _render("t", ["entity_id", "n"], con, "written_at")
    assert "latest_hashes" not in sql
    found = sorted(con.execute(sql).fetchall(), key=str)
    assert found == _by_grouping(con, ["entity_id", "n"])
    assert len(found) == (0 if stamp == "empty" else 3)


def _render_unique(con: duckdb.DuckDBPyConnection) -> str:
    signature = "unique_by_latest_write(model, column_name, written_at)"
    path = GENERIC_TESTS / "test_unique_by_latest_write.sql"
    return _render_test(path, signature, con, model="t", column_name="entity_id", written_at="written_at")


def test_unique_by_latest_write_reports_the_latest_runs_duplicates_against_the_whole_table():
    con = duckdb.connect()
    _written_by_runs(
        con,
        [
            [(f"e{i}", 1) for i in range(1000)] + [("e3", 1), (None, None)],  # e3: the earlier run's to report
            [("e7", 2), ("h1", 1), ("h1", 1), ("h2", 2), (None, None)],  # NULLs ignored, as by dbt's unique
        ],
    )
    sql = _render_unique(con)
    assert sorted(con.execute(sql).fetchall()) == [("e7", 2), ("h1", 2)]


@pytest.mark.parametrize("stamp", ["one", "none"])
def test_unique_by_latest_write_checks_the_whole_table_written_by_one_run(stamp):
    con = duckdb.connect()
    _written_by_runs(con, [[("a", 1), ("a", 2), ("b", 2), ("c", 3), ("c", 3), (None, None), (None, None)]])
    if stamp == "none":
        con.execute("update t set written_at = NULL")
        con.execute("insert into t values ('d', 4, timestamp '2026-12-06 05:00:00')")
    found = sorted(con.execute(_render_unique(con)).fetchall())
    unique = "select entity_id, count(*) from t where entity_id is not null group by entity_id having count(*) > 1"
    assert found == sorted(con.execute(unique).fetchall()) == [("a", 2), ("c", 2)]


def test_is_normalized_email_with_written_at_checks_the_latest_runs_rows():
    con = duckdb.connect()
    _written_by_runs(con, [[("Old@X.com", 1), ("a@x.com", 1)], [("b@x.com", 1), ("New@X.com ", 1), (None, 1)]])
    path = GENERIC_TESTS / "test_is_normalized_email.sql"
    signature = "is_normalized_email(model, column_name, written_at=none)"
    latest = _render_test(path, signature, con, model="t", column_name="entity_id", written_at="written_at")
    assert con.execute(latest).fetchall() == [("New@X.com ",)]
    whole = _render_test(path, signature, con, model="t", column_name="entity_id", written_at=None)
    assert sorted(con.execute(whole).fetchall()) == [("New@X.com ",), ("Old@X.com",)]
