"""Quality-gate suites kept as code, and the runner that validates a DataFrame against one.

A suite is plain data (expectation names and arguments) so defining suites costs nothing at import;
Great Expectations (a 3-4 s import) is loaded only when a suite actually runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

FAILING_EXAMPLES_KEPT = 5


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

    `incremental_by` names an append-only load-time column: rows up to the last passing run's high-water
    mark were validated already, so only newer rows (and rows without a load time) are checked again.
    """

    name: str
    table: str
    expectations: tuple[Expectation, ...]
    incremental_by: str | None = None

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


def table_suite(schema: str, model: str, *expectations: Expectation, incremental_by: str | None = None) -> Suite:
    """A suite named after a dbt model, checking `schema.model` (only rows newer than the last pass with
    `incremental_by`, for append-only models whose expectations are all per row)."""
    return Suite(name=model, table=f"{schema}.{model}", expectations=tuple(expectations), incremental_by=incremental_by)


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


def validate_dataframe(suite: Suite, df: pd.DataFrame) -> SuiteResult:
    """Validate `df` against `suite` with Great Expectations' pandas datasource (ephemeral context)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas("actionhouse")
        .add_dataframe_asset(suite.table)
        .add_batch_definition_whole_dataframe("whole")
    )
    gx_suite = gx.ExpectationSuite(name=suite.name)
    for exp in suite.expectations:
        gx_suite.add_expectation(getattr(gx.expectations, exp.name)(**exp.kwargs))
    batch = batch_definition.get_batch(batch_parameters={"dataframe": df})
    validation = batch.validate(gx_suite, result_format="SUMMARY")

    outcomes = []
    for exp, res in zip(suite.expectations, validation.results, strict=True):
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
