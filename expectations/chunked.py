"""Validate a warehouse table (or its new rows) against a suite in bounded memory, at any size.

Row-level expectations (`ROW_LEVEL`: not null, regex, in set, between) judge each row on its own values, so
the rows are streamed out of DuckDB in chunks of at most `chunk_rows` rows, each chunk is validated by Great
Expectations with the same expectations, and the per-chunk counts are added up: the result (success, element,
missing and unexpected counts, unexpected percent, the first failing examples) is the one Great Expectations
gives on the whole set at once. Memory holds one chunk, whatever the table's size. Before that, where the
expectations have a plain SQL form (not null; between and in set on number and text columns), one DuckDB scan
counts the failing rows: when there are none (a gate's usual case) the outcomes are the chunks' sums without
handing any chunk over; any failing row sends the rows to Great Expectations as before, for its examples.

Set-level expectations (`PUSHED_DOWN`: a value is unexpected because another row has it too) cannot be summed
over chunks: a key repeated across two chunks is unique in each. DuckDB computes them in SQL over the whole row
set instead (a grouped count, which it spills to disk if needed), with Great Expectations' semantics: nulls
are not checked, every row of a repeated value counts as unexpected, `mostly` applies to the rows considered.

No sampling: a gate promises that no bad row passes, and a sample would miss a single bad row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb

from expectations.suite import (
    FAILING_EXAMPLES_KEPT,
    PUSHED_DOWN,
    ROW_LEVEL,
    Expectation,
    ExpectationOutcome,
    Suite,
    SuiteResult,
    _jsonable,
    great_expectations_results,
)

if TYPE_CHECKING:  # frames come from DuckDB, which loads pandas when it makes one
    import pandas as pd

DEFAULT_CHUNK_ROWS = 200_000
DUCKDB_VECTOR_ROWS = 2048  # DuckDB hands results over in vectors of this many rows


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_table(table: str) -> str:
    """`schema.table` quoted for SQL."""
    return ".".join(_quote(part) for part in table.split("."))


def _mostly_success(considered: int, unexpected: int, mostly: float) -> bool:
    """Great Expectations' verdict: vacuously true on no rows, else the share of good rows reaches `mostly`."""
    if considered == 0:
        return True
    return (considered - unexpected) / considered >= mostly


@dataclass
class _Tally:
    """Counts of one row-level expectation summed over chunks."""

    element_count: int = 0
    missing_count: int | None = None  # None: the expectation checks nulls themselves (not null)
    unexpected_count: int = 0
    examples: list[Any] = field(default_factory=list)
    broken: bool = False  # Great Expectations could not evaluate it on some chunk

    def add(self, result: Any) -> None:
        found = result.result or {}
        if found.get("unexpected_count") is None:
            self.broken = True
            return
        self.element_count += found.get("element_count") or 0
        self.unexpected_count += found["unexpected_count"]
        if "missing_count" in found:
            self.missing_count = (self.missing_count or 0) + (found["missing_count"] or 0)
        room = FAILING_EXAMPLES_KEPT - len(self.examples)
        if room > 0:
            self.examples.extend(_jsonable(v) for v in (found.get("partial_unexpected_list") or [])[:room])

    def outcome(self, exp: Expectation) -> ExpectationOutcome:
        if self.broken:
            return ExpectationOutcome(expectation=exp.name, column=exp.column, kwargs=exp.kwargs, success=False)
        # Not null counts every row; the others leave nulls out (Great Expectations' `unexpected_percent`).
        considered = self.element_count - (self.missing_count or 0)
        return ExpectationOutcome(
            expectation=exp.name,
            column=exp.column,
            kwargs=exp.kwargs,
            success=_mostly_success(considered, self.unexpected_count, exp.kwargs.get("mostly", 1.0)),
            element_count=self.element_count,
            unexpected_count=self.unexpected_count,
            unexpected_percent=self.unexpected_count / considered * 100 if considered else None,
            failing_examples=self.examples,
        )


def iter_chunks(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any], chunk_rows: int
) -> Iterator[pd.DataFrame]:
    """The result of `sql` as DataFrames of at most `chunk_rows` rows, streamed (never materialized whole)."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    vectors = max(1, math.ceil(chunk_rows / DUCKDB_VECTOR_ROWS))
    cursor = con.execute(sql, list(params))
    while True:
        fetched = cursor.fetch_df_chunk(vectors)
        if fetched.empty:
            return
        for start in range(0, len(fetched), chunk_rows):
            yield fetched.iloc[start : start + chunk_rows].reset_index(drop=True)


def _validate_chunk(suite_name: str, expectations: tuple[Expectation, ...], chunk: pd.DataFrame) -> list[Any]:
    """Great Expectations on one chunk (a seam: tests watch the chunk sizes handed over here)."""
    return great_expectations_results(suite_name, expectations, chunk)


def _unique_pushdown(
    con: duckdb.DuckDBPyConnection, exp: Expectation, rows_sql: str, params: Sequence[Any]
) -> ExpectationOutcome:
    """ExpectColumnValuesToBeUnique / ExpectCompoundColumnsToBeUnique over the whole row set, in DuckDB."""
    columns = [exp.kwargs["column"]] if exp.name == "ExpectColumnValuesToBeUnique" else list(exp.kwargs["column_list"])
    keys = ", ".join(_quote(c) for c in columns)
    if exp.name == "ExpectColumnValuesToBeUnique":
        considered = f"{_quote(columns[0])} is not null"  # a column map expectation skips nulls
    else:
        ignore = exp.kwargs.get("ignore_row_if", "all_values_are_missing")
        considered = {
            "all_values_are_missing": "not (" + " and ".join(f"{_quote(c)} is null" for c in columns) + ")",
            "any_value_is_missing": " and ".join(f"{_quote(c)} is not null" for c in columns),
            "never": "true",
        }[ignore]
    base = (
        f"with checked as (select {keys} from ({rows_sql})), "
        f"repeated as (select {keys}, count(*) as n from checked where {considered} group by all having count(*) > 1)"
    )
    element_count, considered_count, unexpected_count = con.execute(
        f"{base} select (select count(*) from checked), (select count(*) from checked where {considered}), "
        "(select coalesce(sum(n), 0) from repeated)",
        list(params),
    ).fetchone()
    examples: list[Any] = []
    if unexpected_count:
        repeated = con.execute(
            f"{base} select {keys}, n from repeated order by {keys} limit {FAILING_EXAMPLES_KEPT}", list(params)
        ).fetchall()
        for *values, n in repeated:  # like Great Expectations: every row of a repeated value is an example
            value = values[0] if len(columns) == 1 else dict(zip(columns, values, strict=True))
            examples.extend([_jsonable(value)] * min(n, FAILING_EXAMPLES_KEPT - len(examples)))
    return ExpectationOutcome(
        expectation=exp.name,
        column=exp.column,
        kwargs=exp.kwargs,
        success=element_count == 0
        or _mostly_success(considered_count, unexpected_count, exp.kwargs.get("mostly", 1.0)),
        element_count=element_count,
        unexpected_count=unexpected_count,
        unexpected_percent=unexpected_count / considered_count * 100 if element_count and considered_count else None,
        failing_examples=examples[:FAILING_EXAMPLES_KEPT],
    )


_INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)
_FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE"})


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# Regexes whose every match in DuckDB's engine (RE2) is a match in Python's `re` (which Great Expectations' pandas
# datasource runs, as `str.contains`): literal ASCII letters and digits, escaped punctuation, bracket classes of
# those and ranges (not negated), groups without `(?` flags or lookarounds, alternation, `*+?{m,n}` and the
# anchors `^ $`. On these the two engines read the same language, except that Python's `$` also matches before a
# final newline: Python accepts a little more, so "no failing row" in DuckDB means none in Python. Anything else
# (`.`, `\d`, `\w`, `\s`, `\b`, classes like `[^...]`, flags) goes to Great Expectations.
_ESCAPED_PUNCTUATION = r"\\[!-/:-@\[-`{-~]"
_CLASS_ITEM = rf"(?:[A-Za-z0-9](?:-[A-Za-z0-9])?|{_ESCAPED_PUNCTUATION}|[._%+'@,:/=&!~#;\- ])"
_PYTHON_AGREEING_REGEX = re.compile(
    rf"(?:\[{_CLASS_ITEM}+\]|{_ESCAPED_PUNCTUATION}|[A-Za-z0-9@%'_,:/=&!~#;\- ]|[()|^$*+?]"
    rf"|\{{[0-9]{{1,3}}(?:,[0-9]{{0,3}})?\}})*"
)


def _regex_agrees_with_python(regex: str) -> bool:
    """Whether DuckDB finding a match for `regex` means Python's `re.search` finds one too (see above)."""
    if "(?" in regex or _PYTHON_AGREEING_REGEX.fullmatch(regex) is None:
        return False
    try:
        re.compile(regex)
    except re.error:  # Great Expectations reports it
        return False
    return True


def _row_check_sql(exp: Expectation, column_type: str) -> tuple[str, str] | None:
    """(missing, unexpected): SQL conditions that judge a row as Great Expectations' pandas datasource judges it
    on the frame DuckDB hands over, for the expectations and column types where that is plain (else None).

    pandas counts NULL and NaN as missing; not null has no missing rows (a missing value is what it reports), the
    others leave missing values out. Only used to learn that no row fails: any failing row sends the whole
    suite's row-level expectations to Great Expectations, which then gives the failing examples itself."""
    column = _quote(exp.column)
    is_float = column_type in _FLOAT_TYPES
    is_number = is_float or column_type in _INTEGER_TYPES or column_type.startswith("DECIMAL")
    missing = f"({column} is null or isnan({column}))" if is_float else f"({column} is null)"
    arguments = set(exp.kwargs) - {"column", "mostly"}
    if exp.name == "ExpectColumnValuesToNotBeNull" and not arguments:
        return "false", missing
    if exp.name == "ExpectColumnValuesToBeBetween" and is_number and arguments <= {"min_value", "max_value"}:
        low, high = exp.kwargs.get("min_value"), exp.kwargs.get("max_value")
        bounds = [v for v in (low, high) if v is not None]
        if not bounds or not all(_is_number(v) and math.isfinite(v) for v in bounds):
            return None
        within = " and ".join(
            [f"{column} >= {low!r}"] * (low is not None) + [f"{column} <= {high!r}"] * (high is not None)
        )
        return missing, f"(not {missing} and not ({within}))"
    if (
        exp.name == "ExpectColumnValuesToMatchRegex"
        and arguments == {"regex"}
        and column_type == "VARCHAR"
        and isinstance(exp.kwargs["regex"], str)
        and _regex_agrees_with_python(exp.kwargs["regex"])
    ):
        pattern = "'" + exp.kwargs["regex"].replace("'", "''") + "'"
        return missing, f"(not {missing} and not regexp_matches({column}, {pattern}))"
    if exp.name == "ExpectColumnValuesToBeInSet" and arguments == {"value_set"}:
        values = list(exp.kwargs["value_set"])
        if values and column_type == "VARCHAR" and all(isinstance(v, str) for v in values):
            listed = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
        elif (
            values
            and column_type in _INTEGER_TYPES
            and all(isinstance(v, int) and not isinstance(v, bool) for v in values)
        ):
            listed = ", ".join(str(v) for v in values)
        else:
            return None
        return missing, f"(not {missing} and {column} not in ({listed}))"
    return None


def _row_level_outcomes_in_sql(
    con: duckdb.DuckDBPyConnection,
    row_level: tuple[Expectation, ...],
    table: str,
    filter_sql: str,
    params: Sequence[Any],
) -> tuple[int, list[ExpectationOutcome]] | None:
    """The row count and outcomes of the row-level expectations when DuckDB finds that no row fails any of them:
    the outcomes Great Expectations' chunks would add up to (same counts, no failing examples), in one scan
    instead of a pandas frame per chunk. None when some row fails or an expectation has no plain SQL form."""
    relation = con.sql(f"select * from {table} limit 0")
    types = dict(zip(relation.columns, (str(t) for t in relation.types), strict=True))
    checks = [_row_check_sql(exp, types[exp.column]) if exp.column in types else None for exp in row_level]
    if any(check is None for check in checks):
        return None
    counts = ", ".join(
        f"count(*) filter (where {missing}), count(*) filter (where {unexpected})" for missing, unexpected in checks
    )
    row_count, *found = con.execute(f"select count(*), {counts} from {table}{filter_sql}", list(params)).fetchone()
    if any(found[1::2]):
        return None
    outcomes = []
    for exp, missing in zip(row_level, found[0::2], strict=True):
        # As _Tally sums Great Expectations' results: not null reports no missing_count; no chunk, no count.
        tally = _Tally(element_count=row_count, unexpected_count=0)
        if exp.name != "ExpectColumnValuesToNotBeNull" and row_count:
            tally.missing_count = missing
        outcomes.append(tally.outcome(exp))
    return row_count, outcomes


def validate_table(
    con: duckdb.DuckDBPyConnection,
    suite: Suite,
    where: str | None = None,
    params: Sequence[Any] = (),
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    sets_over_whole_table: bool = False,
) -> SuiteResult:
    """Validate the rows of `suite.table` (those matching `where`, with `params`) against `suite`.

    Same result as `validate_dataframe` on the same rows, holding at most `chunk_rows` rows in memory. With
    `sets_over_whole_table`, the set-level expectations (uniqueness) look at every row of the table and only the
    row-level ones at the rows matching `where`: a new key can repeat one checked before.
    """
    table = quote_table(suite.table)
    filter_sql = f" where {where}" if where else ""
    row_level = tuple(e for e in suite.expectations if e.name in ROW_LEVEL)
    outcomes: dict[int, ExpectationOutcome] = {}

    # Set-level expectations first: the streamed result below must not be interrupted by other queries.
    for index, exp in enumerate(suite.expectations):
        if exp.name in PUSHED_DOWN:
            rows_sql, rows_params = (table, []) if sets_over_whole_table else (f"{table}{filter_sql}", params)
            outcomes[index] = _unique_pushdown(con, exp, f"select * from {rows_sql}", rows_params)

    in_sql = _row_level_outcomes_in_sql(con, row_level, table, filter_sql, params) if row_level else None
    if in_sql is not None:
        row_count, found = in_sql
        row_level_outcomes = iter(found)
        for index, exp in enumerate(suite.expectations):
            if exp.name in ROW_LEVEL:
                outcomes[index] = next(row_level_outcomes)
    elif row_level:
        columns: list[str] = []
        for exp in row_level:
            if exp.column not in columns:
                columns.append(exp.column)
        tallies = [_Tally() for _ in row_level]
        row_count = 0
        sql = f"select {', '.join(_quote(c) for c in columns)} from {table}{filter_sql}"
        for chunk in iter_chunks(con, sql, params, chunk_rows):
            row_count += len(chunk)
            for tally, result in zip(tallies, _validate_chunk(suite.name, row_level, chunk), strict=True):
                tally.add(result)
        row_level_outcomes = iter([tally.outcome(exp) for tally, exp in zip(tallies, row_level, strict=True)])
        for index, exp in enumerate(suite.expectations):
            if exp.name in ROW_LEVEL:
                outcomes[index] = next(row_level_outcomes)
    else:
        row_count = con.execute(f"select count(*) from {table}{filter_sql}", list(params)).fetchone()[0]

    return SuiteResult(
        suite=suite.name,
        table=suite.table,
        row_count=row_count,
        outcomes=[outcomes[i] for i in range(len(suite.expectations))],
    )
