"""Quality-gate suites kept as code, and the runner that validates a DataFrame against one.

A suite is plain data (expectation names and arguments) so defining suites costs nothing at import;
Great Expectations (a 3-4 s import) is loaded only when a suite actually runs.

Gates validate tables of any size in bounded memory (`expectations.chunked`), so a suite may hold only
expectations that can be checked that way: row-level ones (`ROW_LEVEL`, each row judged alone, so results of
chunks add up) and set-level ones with an exact SQL pushdown (`PUSHED_DOWN`, uniqueness over the whole row
set). Any other expectation type is refused when the suite is defined.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is loaded by what makes the frames (DuckDB), when a gate needs one
    import pandas as pd

FAILING_EXAMPLES_KEPT = 5

# Great Expectations column-map expectations: each row passes or fails on its own values, so a table can be
# validated chunk by chunk and the counts summed (see expectations.chunked).
ROW_LEVEL = frozenset(
    {
        "ExpectColumnValuesToNotBeNull",
        "ExpectColumnValuesToMatchRegex",
        "ExpectColumnValuesToBeInSet",
        "ExpectColumnValuesToBeBetween",
    }
)
# Set-level expectations (a row fails because of other rows): computed by DuckDB over the whole row set.
PUSHED_DOWN = frozenset({"ExpectColumnValuesToBeUnique", "ExpectCompoundColumnsToBeUnique"})
# Arguments the SQL pushdowns implement (besides the columns); anything else would be silently ignored.
PUSHDOWN_ARGUMENTS = frozenset({"column", "column_list", "mostly", "ignore_row_if"})


@dataclass(frozen=True)
class Expectation:
    """One Great Expectations expectation: its class name in `gx.expectations` and its arguments."""

    name: str
    kwargs: dict[str, Any]

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")


@dataclass(frozen=True)
class Suite:
    """A named list of expectations for one table, and the columns they need.

    `incremental_by` names a load-time column that only grows: rows up to the last passing run's high-water
    mark were validated already, so only newer rows (and rows without a load time) are checked again. Fit for
    an append-only table, and for one that replaces a record's row with its newer version (a row replaced by an
    older one it had before carries that one's load time, and was checked then).
    `keys_over_whole_table`: uniqueness looks at every row even then — a table of one row per record, where a new
    row could repeat the key of one checked before (not needed where the key holds the run, as in a score log).
    """

    name: str
    table: str
    expectations: tuple[Expectation, ...]
    incremental_by: str | None = None
    keys_over_whole_table: bool = False

    def __post_init__(self) -> None:
        for exp in self.expectations:
            if exp.name in ROW_LEVEL:
                continue
            if exp.name not in PUSHED_DOWN:
                raise ValueError(
                    f"suite {self.name}: {exp.name} cannot be validated in bounded chunks (it is not a row-level "
                    f"expectation: {', '.join(sorted(ROW_LEVEL))}) and has no SQL pushdown "
                    f"({', '.join(sorted(PUSHED_DOWN))}); add one in expectations/chunked.py first"
                )
            unsupported = set(exp.kwargs) - PUSHDOWN_ARGUMENTS
            if unsupported:
                raise ValueError(
                    f"suite {self.name}: {exp.name} is computed in SQL, which does not implement "
                    f"{', '.join(sorted(unsupported))}"
                )

    @property
    def columns(self) -> list[str]:
        """Columns the suite reads, so callers fetch only those from the warehouse."""
        cols: list[str] = []
        for exp in self.expectations:
            for key in ("column", "column_A", "column_B"):
                if key in exp.kwargs and exp.kwargs[key] not in cols:
                    cols.append(exp.kwargs[key])
            for col in exp.kwargs.get("column_list", []):
                if col not in cols:
                    cols.append(col)
        return cols


@dataclass
class ExpectationOutcome:
    """What one expectation found: pass/fail, how many rows broke it, and a few of them."""

    expectation: str
    column: str | None
    kwargs: dict[str, Any]
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    failing_examples: list[Any] = field(default_factory=list)
    observed_value: Any = None


@dataclass
class SuiteResult:
    """The outcome of a suite on one DataFrame."""

    suite: str
    table: str
    row_count: int
    outcomes: list[ExpectationOutcome]

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


def table_suite(
    schema: str,
    model: str,
    *expectations: Expectation,
    incremental_by: str | None = None,
    keys_over_whole_table: bool = False,
) -> Suite:
    """A suite named after a dbt model, checking `schema.model` (only the rows newer than the last pass with
    `incremental_by`: see `Suite`)."""
    return Suite(
        name=model,
        table=f"{schema}.{model}",
        expectations=tuple(expectations),
        incremental_by=incremental_by,
        keys_over_whole_table=keys_over_whole_table,
    )


def key_column(column: str) -> tuple[Expectation, Expectation]:
    """The promises of a table's key: never null, never repeated."""
    return (
        expect("ExpectColumnValuesToNotBeNull", column=column),
        expect("ExpectColumnValuesToBeUnique", column=column),
    )


def expect(name: str, **kwargs: Any) -> Expectation:
    """Shorthand used by the suite modules: `expect("ExpectColumnValuesToNotBeNull", column="id")`."""
    return Expectation(name=name, kwargs=kwargs)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)


class _GreatExpectations:
    """One ephemeral Great Expectations context with a pandas DataFrame asset, reused for every suite and
    chunk a process validates (GX suites built once per suite)."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine

        # GX fingerprints every DataFrame under 1 GB (a hash of every cell, twice per validation) for a batch
        # marker nothing here reads: a third of a gate's time. Frames over 1 GB were never hashed.
        pandas_execution_engine.HASH_THRESHOLD = 0
        self._gx = gx
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self._batch_definition = (
            context.data_sources.add_pandas("actionhouse")
            .add_dataframe_asset("rows")
            .add_batch_definition_whole_dataframe("whole")
        )
        self._suites: dict[tuple[str, str], Any] = {}

    def _suite(self, name: str, expectations: tuple[Expectation, ...]) -> Any:
        key = (name, json.dumps([(e.name, e.kwargs) for e in expectations], sort_keys=True, default=str))
        if key not in self._suites:
            gx_suite = self._gx.ExpectationSuite(name=name)
            for index, exp in enumerate(expectations):
                # GX does not return results in the suite's order: each carries its position in `meta`.
                gx_suite.add_expectation(
                    getattr(self._gx.expectations, exp.name)(**exp.kwargs, meta={POSITION: index})
                )
            self._suites[key] = gx_suite
        return self._suites[key]

    def validate(self, name: str, expectations: tuple[Expectation, ...], df: pd.DataFrame) -> list[Any]:
        """GX's result for each expectation on `df`, in the order of `expectations` (SUMMARY format: counts
        and a few examples)."""
        batch = self._batch_definition.get_batch(batch_parameters={"dataframe": df})
        validation = batch.validate(self._suite(name, expectations), result_format="SUMMARY")
        results = sorted(validation.results, key=lambda res: res.expectation_config.meta[POSITION])
        if [res.expectation_config.meta[POSITION] for res in results] != list(range(len(expectations))):
            raise RuntimeError(f"suite {name}: Great Expectations did not return one result per expectation")
        return results


_RUNNER: _GreatExpectations | None = None
POSITION = "actionhouse_position"


def great_expectations_results(name: str, expectations: tuple[Expectation, ...], df: pd.DataFrame) -> list[Any]:
    """Validate `df` against `expectations` with Great Expectations' pandas datasource; one result each."""
    global _RUNNER
    if _RUNNER is None:
        _RUNNER = _GreatExpectations()
    return _RUNNER.validate(name, expectations, df)


def validate_dataframe(suite: Suite, df: pd.DataFrame) -> SuiteResult:
    """Validate all of `df` against `suite` at once with Great Expectations' pandas datasource (the gates use
    `expectations.chunked.validate_table`, which gives the same results in bounded memory)."""
    results = great_expectations_results(suite.name, suite.expectations, df)
    outcomes = []
    for exp, res in zip(suite.expectations, results, strict=True):
        result = res.result or {}
        examples = result.get("partial_unexpected_list") or []
        outcomes.append(
            ExpectationOutcome(
                expectation=exp.name,
                column=exp.column,
                kwargs=exp.kwargs,
                success=bool(res.success),
                element_count=result.get("element_count"),
                unexpected_count=result.get("unexpected_count"),
                unexpected_percent=result.get("unexpected_percent"),
                failing_examples=[_jsonable(v) for v in examples[:FAILING_EXAMPLES_KEPT]],
                observed_value=_jsonable(result.get("observed_value")),
            )
        )
    return SuiteResult(suite=suite.name, table=suite.table, row_count=len(df), outcomes=outcomes)
