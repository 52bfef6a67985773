"""Golden-record gate (expectations/golden.py): each rule passes on good marts and fails on the broken case."""

from __future__ import annotations

import pandas as pd
import pytest

from expectations.golden import GOLDEN_SUITES
from expectations.suite import validate_dataframe


def _failed(suite_name: str, frame: pd.DataFrame) -> set[tuple[str, str]]:
    result = validate_dataframe(GOLDEN_SUITES[suite_name], frame)
    return {(outcome.expectation, outcome.column) for outcome in result.failed}


def test_golden_suites_cover_the_four_marts():
    assert set(GOLDEN_SUITES) == {"dim_contacts", "contact_crosswalk", "dim_accounts", "account_crosswalk"}
    assert all(suite.table.startswith("marts.") for suite in GOLDEN_SUITES.values())


def test_good_golden_records_pass():
    contacts = pd.DataFrame({"golden_contact_id": ["gc-1", "gc-2"], "unbridged_domain_count": [1, 0]})
    crosswalk = pd.DataFrame({"source_record_id": [1, 2, 3], "golden_contact_id": ["gc-1", "gc-1", "gc-2"]})
    assert _failed("dim_contacts", contacts) == set()
    assert _failed("contact_crosswalk", crosswalk) == set()


@pytest.mark.parametrize(
    ("suite", "frame", "broken"),
    [
        # golden ids must be unique
        (
            "dim_contacts",
            {"golden_contact_id": ["gc-1", "gc-1"], "unbridged_domain_count": [1, 1]},
            ("ExpectColumnValuesToBeUnique", "golden_contact_id"),
        ),
        # a contact cluster must never span two employer domains
        (
            "dim_contacts",
            {"golden_contact_id": ["gc-1", "gc-2"], "unbridged_domain_count": [2, 1]},
            ("ExpectColumnValuesToBeBetween", "unbridged_domain_count"),
        ),
        # the crosswalk covers every source row: a lost record has no golden id
        (
            "contact_crosswalk",
            {"source_record_id": [1, 2], "golden_contact_id": ["gc-1", None]},
            ("ExpectColumnValuesToNotBeNull", "golden_contact_id"),
        ),
        # ... and maps each source row once
        (
            "account_crosswalk",
            {"source_record_id": [7, 7], "golden_account_id": ["ga-7", "ga-8"]},
            ("ExpectColumnValuesToBeUnique", "source_record_id"),
        ),
        # an account cluster never spans two unrelated domains
        (
            "dim_accounts",
            {"golden_account_id": ["ga-1"], "account_domain_count": [2]},
            ("ExpectColumnValuesToBeBetween", "account_domain_count"),
        ),
    ],
)
def test_each_gate_rule_fails_on_its_broken_case(suite, frame, broken):
    assert broken in _failed(suite, pd.DataFrame(frame))
