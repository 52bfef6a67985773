"""The quality-gate mechanism: suites as data, validation with failing examples, stored results."""

from __future__ import annotations

import duckdb
import pandas as pd

from expectations.raw import RAW_SUITES
from expectations.store import store_suite_result
from expectations.suite import Suite, expect, validate_dataframe
from landing.contract import SOURCES


def test_validate_reports_failures_with_examples():
    suite = Suite(
        name="people",
        table="people",
        expectations=(
            expect("ExpectColumnValuesToNotBeNull", column="id"),
            expect("ExpectColumnValuesToMatchRegex", column="email", regex=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"),
            expect("ExpectColumnValuesToBeInSet", column="tier", value_set=[1, 2, 3]),
        ),
    )
    frame = pd.DataFrame(
        {"id": [1, 2, None, 4], "email": ["a@b.io", "not-an-email", None, "c@d.com"], "tier": [1, 2, 3, 3]}
    )
    result = validate_dataframe(suite, frame)
    assert not result.success
    by_name = {o.expectation: o for o in result.outcomes}
    assert by_name["ExpectColumnValuesToNotBeNull"].unexpected_count == 1
    assert by_name["ExpectColumnValuesToMatchRegex"].failing_examples == ["not-an-email"]
    assert by_name["ExpectColumnValuesToBeInSet"].success
    # What the Dagster UI gets: the verdicts and counts, examples masked (the values stay in the warehouse).
    from orchestration.metadata import suite_result_markdown

    shown = suite_result_markdown(result)
    assert "FAIL" in shown and "n***" in shown and "not-an-email" not in shown


def test_passing_suite_is_success():
    suite = Suite(name="ok", table="t", expectations=(expect("ExpectColumnValuesToNotBeNull", column="x"),))
    assert validate_dataframe(suite, pd.DataFrame({"x": [1, 2]})).success


def test_results_are_stored_per_expectation(tmp_path):
    suite = Suite(name="s", table="t", expectations=(expect("ExpectColumnValuesToNotBeNull", column="x"),))
    result = validate_dataframe(suite, pd.DataFrame({"x": [1, None]}))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert store_suite_result(con, result, stage="raw", run_id="run-1") == 1
    row = con.execute(
        "select suite, success, unexpected_count, stage, run_id from quality.expectation_results"
    ).fetchone()
    assert row == ("s", False, 1, "raw", "run-1")


def test_raw_suites_follow_the_landing_contract():
    assert set(RAW_SUITES) == set(SOURCES)
    contacts = RAW_SUITES["hubspot_contacts"]
    assert "record_id" in contacts.columns
    names = [(e.name, e.column) for e in contacts.expectations]
    assert ("ExpectColumnValuesToNotBeNull", "record_id") in names
    assert ("ExpectColumnValuesToMatchRegex", "record_id") in names
