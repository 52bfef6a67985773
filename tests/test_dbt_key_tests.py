"""The generic tests that stand for several of dbt's per column (dbt_project/tests/generic): `unique_not_null` fails
exactly when dbt's `not_null` or `unique` on the column fails, and `not_null_columns` exactly when dbt's `not_null`
on one of its columns does, naming the column. Each dbt test is a node of every build (compiling, a connection, a
query, results, a Dagster check), so the project declares one of these where it declared several of dbt's: the
manifest keeps no column with both of dbt's tests and no model with more than one NULL test, and each of these is a
blocking Dagster check on its model."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import duckdb
import jinja2
import pytest

GENERIC_TESTS = Path(__file__).resolve().parents[1] / "dbt_project" / "tests" / "generic"
# dbt-core's own `not_null` and `unique` (dbt/include/global_project/macros/generic_test_sql), as they render.
DBT_NOT_NULL = "select {column} from {model} where {column} is null"
DBT_UNIQUE = (
    "select {column} as unique_field, count(*) as n_records from {model} where {column} is not null "
    "group by {column} having count(*) > 1"
)


KEY_TEST = "unique_not_null(model, column_name, written_at=none)"


def _render(name: str, signature: str, **arguments: object) -> str:
    """The SQL of generic test `name` (its `{% test <signature> %}` block), as dbt renders it."""
    text = (GENERIC_TESTS / f"test_{name}.sql").read_text()
    body = re.search(r"\{% test " + re.escape(signature) + r" %\}(.*)\{% endtest %\}", text, re.S)
    assert body, f"the test block of test_{name}.sql"
    return jinja2.Template(body.group(1)).render(**arguments)


def _key_failures(con: duckdb.DuckDBPyConnection, column: str) -> list[tuple]:
    sql = _render("unique_not_null", KEY_TEST, model="t", column_name=column)
    return sorted(con.execute(sql).fetchall(), key=str)


def _null_failures(con: duckdb.DuckDBPyConnection, columns: list[str]) -> list[tuple]:
    sql = _render("not_null_columns", "not_null_columns(model, columns)", model="t", columns=columns)
    return sorted(con.execute(sql).fetchall())


def _insert(con: duckdb.DuckDBPyConnection, sql: str, rows: list[tuple]) -> None:
    if rows:  # DuckDB's executemany refuses an empty list
        con.executemany(sql, rows)


def _dbt(con: duckdb.DuckDBPyConnection, template: str, column: str) -> list[tuple]:
    return con.execute(template.format(column=column, model="t")).fetchall()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2, 3], []),
        ([1, None, 3], [(None, 1, "null")]),
        ([1, 2, 2, 3], [(2, 2, "duplicate")]),
        ([None, 1, None, 1, 1, 4], [(1, 3, "duplicate"), (None, 2, "null")]),
        ([None], [(None, 1, "null")]),
        ([], []),
    ],
)
def test_unique_not_null_hard_cases(values, expected):
    con = duckdb.connect()
    con.execute("create table t (k bigint)")
    _insert(con, "insert into t values (?)", [(v,) for v in values])
    assert _key_failures(con, "k") == sorted(expected, key=str)


def test_unique_not_null_fails_exactly_when_dbts_not_null_or_unique_fails():
    """Random keys of three types: the NULL row counts dbt's `not_null` rows, the other rows are dbt's `unique`."""
    rng = random.Random(14)
    con = duckdb.connect()
    for case in range(60):
        kind = ("bigint", "varchar", "date")[case % 3]
        n = rng.randint(0, 12)
        keys = [None if rng.random() < 0.08 else rng.randint(1, 3 * n + 1) for _ in range(n)]
        con.execute(f"create or replace table t (k {kind}, other varchar)")
        as_type = {"bigint": lambda k: k, "varchar": lambda k: f"id-{k}", "date": lambda k: f"2026-01-{k % 28 + 1:02d}"}
        _insert(con, "insert into t values (?, 'x')", [(None if k is None else as_type[kind](k),) for k in keys])
        failures = _key_failures(con, "k")
        nulls, duplicates = _dbt(con, DBT_NOT_NULL, "k"), _dbt(con, DBT_UNIQUE, "k")
        assert bool(failures) == bool(nulls or duplicates), (kind, keys)
        assert [(n, f) for k, n, f in failures if k is None] == ([(len(nulls), "null")] if nulls else [])
        assert sorted((k, n) for k, n, f in failures if k is not None) == sorted(duplicates)
        assert all(f == "duplicate" for k, n, f in failures if k is not None)


class _Stamps:
    """What dbt's `run_query` returns, as the test reads it: `.columns[0].values()[0]`."""

    def __init__(self, value: bool):
        self.columns = [type("Column", (), {"values": lambda _self: [value]})()]


def _latest_key_failures(con: duckdb.DuckDBPyConnection, column: str, stamp: str) -> list[tuple]:
    """`unique_not_null` given `written_at: <stamp>`, rendered as dbt does (its stamps' query run here)."""
    several = con.execute(f"select coalesce(min({stamp}) < max({stamp}), false) from t").fetchone()[0]
    sql = _render(
        "unique_not_null",
        KEY_TEST,
        model="t",
        column_name=column,
        written_at=stamp,
        execute=True,
        run_query=lambda _sql: _Stamps(several),
    )
    return sorted(con.execute(sql).fetchall(), key=str)


def test_unique_not_null_given_a_stamp_checks_the_latest_runs_values_and_every_null():
    """With `written_at`: a value repeated on a row of the latest run (the largest stamp) and any other row fails,
    each row of it counted; a value repeated by earlier runs' rows alone was checked by those runs and is not
    reported; every NULL key of the table is (dbt's `not_null`). One stamp, or none: the whole check. Random
    tables against dbt's `not_null` and `unique`."""
    rng = random.Random(45)
    con = duckdb.connect()
    hard = [
        # (key, stamp): an old row's key written again by the latest run; two latest rows of one key; an old
        # duplicate alone; a NULL key of an earlier run.
        ([(1, 1), (1, 2), (2, 2)], [(1, 2, "duplicate")]),
        ([(1, 1), (3, 2), (3, 2)], [(3, 2, "duplicate")]),
        ([(4, 1), (4, 1), (5, 2)], []),
        ([(None, 1), (None, 1), (6, 2)], [(None, 2, "null")]),
        ([(7, 1), (7, 1)], [(7, 2, "duplicate")]),  # one stamp: everything
        ([(8, None), (8, None), (9, 2)], [(8, 2, "duplicate")]),  # rows without a stamp do not count: one stamp
    ]
    for rows, expected in hard:
        con.execute("create or replace table t (k bigint, s bigint)")
        _insert(con, "insert into t values (?, ?)", rows)
        assert _latest_key_failures(con, "k", "s") == sorted(expected, key=str), rows
    for case in range(60):
        kind = ("bigint", "varchar")[case % 2]
        n = rng.randint(0, 14)
        rows = [
            (None if rng.random() < 0.08 else rng.randint(1, 2 * n + 1), rng.choice([1, 2, 3] if case % 3 else [5]))
            for _ in range(n)
        ]
        as_key = (lambda k: k) if kind == "bigint" else (lambda k: f"id-{k}")
        con.execute(f"create or replace table t (k {kind}, s bigint)")
        _insert(con, "insert into t values (?, ?)", [(None if k is None else as_key(k), s) for k, s in rows])
        nulls, duplicates = _dbt(con, DBT_NOT_NULL, "k"), _dbt(con, DBT_UNIQUE, "k")
        stamps = {s for _, s in rows}
        latest = {as_key(k) for k, s in rows if k is not None and s == max(stamps)} if len(stamps) > 1 else None
        expected = [(None, len(nulls), "null")] if nulls else []
        expected += [(k, c, "duplicate") for k, c in duplicates if latest is None or k in latest]
        assert _latest_key_failures(con, "k", "s") == sorted(expected, key=str), (kind, rows)


def test_not_null_columns_names_each_column_with_a_null():
    con = duckdb.connect()
    con.execute("create table t (a bigint, b varchar, c boolean)")
    con.execute("insert into t values (1, 'x', true), (2, 'y', false)")
    assert _null_failures(con, ["a", "b", "c"]) == []
    # A NULL in the second of three columns only.
    con.execute("insert into t values (3, null, true)")
    assert _null_failures(con, ["a", "b", "c"]) == [("b", 1)]
    con.execute("insert into t values (null, null, null), (4, 'z', null)")
    assert _null_failures(con, ["a", "b", "c"]) == [("a", 1), ("b", 2), ("c", 2)]
    assert _null_failures(con, ["c"]) == [("c", 2)]
    con.execute("delete from t")
    assert _null_failures(con, ["a", "b", "c"]) == []


def test_not_null_columns_fails_exactly_when_one_of_dbts_not_null_fails():
    rng = random.Random(7)
    con = duckdb.connect()
    columns = ["a", "b", "c", "d"]
    for _ in range(40):
        con.execute("create or replace table t (a bigint, b varchar, c timestamp, d boolean)")
        values = [(i, f"v{i}", f"2026-01-01 00:00:{i % 60:02d}", i % 2 == 0) for i in range(rng.randint(0, 15))]
        rows = [tuple(None if rng.random() < 0.05 else v for v in row) for row in values]
        _insert(con, "insert into t values (?, ?, ?, ?)", rows)
        expected = [(c, len(_dbt(con, DBT_NOT_NULL, c))) for c in columns if _dbt(con, DBT_NOT_NULL, c)]
        assert _null_failures(con, columns) == expected


def test_project_declares_one_key_test_and_one_null_test_and_each_blocks(dbt_manifest):
    """No column carries both of dbt's `unique` and `not_null`, no model more than one NULL test (`not_null` or
    `not_null_columns`), and each `unique_not_null` and `not_null_columns` is a blocking Dagster check of its model
    (dagster-dbt makes a dbt test of severity error a blocking check)."""
    from dagster_dbt import DagsterDbtTranslator
    from dagster_dbt.asset_utils import default_asset_check_fn

    manifest = json.loads(Path(dbt_manifest).read_text())
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test" and n.get("attached_node")]
    by_column: dict[tuple[str, str], set[str]] = {}
    null_tests: dict[str, int] = {}
    translator = DagsterDbtTranslator()
    combined = 0
    for test in tests:
        name = (test.get("test_metadata") or {}).get("name")
        by_column.setdefault((test["attached_node"], test.get("column_name") or ""), set()).add(name)
        if name in ("not_null", "not_null_columns"):
            null_tests[test["attached_node"]] = null_tests.get(test["attached_node"], 0) + 1
        if name in ("unique_not_null", "not_null_columns"):
            combined += 1
            model_key = translator.get_asset_spec(manifest, test["attached_node"], None).key
            spec = default_asset_check_fn(manifest, translator, model_key, test["unique_id"], None)
            assert spec is not None and spec.blocking and spec.asset_key == model_key, test["unique_id"]
    assert not [key for key, names in by_column.items() if {"unique", "not_null"} <= names]
    assert not [model for model, count in null_tests.items() if count > 1]
    assert combined >= 60
