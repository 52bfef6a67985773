"""Raw-stage gate: what every loaded row must satisfy, derived from the landing contract itself.

The loader already quarantines rows that break the contract; this suite is the independent guard that
stops anything downstream if a row slipped through (or was written by something other than the loader).
"""

from __future__ import annotations

from expectations.suite import Expectation, Suite, expect
from landing.contract import SOURCES, SourceSpec

WHOLE_NUMBER = r"^[0-9]+$"

# Closed vocabularies the contract documents for JSON-lines sources.
ENUMERATIONS: dict[str, dict[str, list[str]]] = {
    "email_events": {
        "type": ["sent", "delivered", "open", "click", "reply", "bounce", "unsubscribe", "spam_report"]
    },
    "web_events": {"type": ["page", "track", "identify"]},
    "product_events": {"type": ["page", "track", "identify"]},
    "enrichment": {"object_type": ["contact", "company"]},
    "signals": {"type": ["hiring", "funding", "tool_install", "leadership_change"]},
    "leads": {"lead_source": ["form", "chat", "webinar", "demo_request", "list_upload"]},
}


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
    for column, values in ENUMERATIONS.get(spec.name, {}).items():
        expectations.append(expect("ExpectColumnValuesToBeInSet", column=column, value_set=values))
    return Suite(name=f"raw_{spec.name}", table=spec.table, expectations=tuple(expectations))


RAW_SUITES: dict[str, Suite] = {name: raw_suite(spec) for name, spec in SOURCES.items()}
