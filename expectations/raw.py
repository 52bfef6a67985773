"""Raw-stage gate: what every loaded row must satisfy, derived from the landing contract itself.

The loader already quarantines rows that break the contract; this suite is the independent guard that
stops anything downstream if a row slipped through (or was written by something other than the loader).
"""

from __future__ import annotations

from expectations.suite import Expectation, Suite, expect
from landing.contract import SOURCES, SourceSpec

WHOLE_NUMBER = r"^[0-9]+$"


def raw_suite(spec: SourceSpec) -> Suite:
    """The gate for one raw table: required values present, ids whole numbers, vocabularies closed."""
    expectations: list[Expectation] = [
        expect("ExpectColumnValuesToNotBeNull", column="_source_file"),
        expect("ExpectColumnValuesToNotBeNull", column="_source_line"),
    ]
    for label in spec.required:
        expectations.append(expect("ExpectColumnValuesToNotBeNull", column=spec.column_name(label)))
    for label in spec.id_columns:
        column = spec.column_name(label)
        expectations.append(expect("ExpectColumnValuesToMatchRegex", column=column, regex=WHOLE_NUMBER))
    for label, allowed in spec.allowed_values.items():
        expectations.append(
            expect("ExpectColumnValuesToBeInSet", column=spec.column_name(label), value_set=list(allowed))
        )
    return Suite(
        name=f"raw_{spec.name}", table=spec.table, expectations=tuple(expectations), incremental_by="_loaded_at"
    )


RAW_SUITES: dict[str, Suite] = {name: raw_suite(spec) for name, spec in SOURCES.items()}
