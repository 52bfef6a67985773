"""The `unique_combination` generic test (dbt_project/tests/generic) reports exactly what grouping by the columns
reports: its first pass groups by a hash of the combination only to find candidates faster."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import jinja2
import pytest

TEST_FILE = Path(__file__).resolve().parents[1] / "dbt_project" / "tests" / "generic" / "test_unique_combination.sql"


def _render(model: str, columns: list[str]) -> str:
    body = re.search(
        r"\{% test unique_combination\(model, columns\) %\}(.*)\{% endtest %\}", TEST_FILE.read_text(), re.S
    )
    assert body, "the test block of test_unique_combination.sql"
    return jinja2.Template(body.group(1)).render(model=model, columns=columns)


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
