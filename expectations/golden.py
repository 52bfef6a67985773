"""Golden-record gate: the promises of the entity-resolution marts, checked on their output.

- golden ids are unique in dim_contacts / dim_accounts;
- the crosswalks cover every source record (built from staging, so a lost record has a NULL golden id)
  and map each source record once;
- no cluster spans two unrelated employer / account domains (the subsidiary map is applied before counting; a
  contact's employers bridged by a personal identifier, a job change keeping LinkedIn and mobile, are related).
"""

from __future__ import annotations

from expectations.suite import Suite, expect, key_column, table_suite

MARTS_SCHEMA = "marts"



GOLDEN_SUITES: dict[str, Suite] = {
    suite.name: suite
    for suite in (
        table_suite(
            MARTS_SCHEMA,
            "dim_contacts",
            *key_column("golden_contact_id"),
            expect("ExpectColumnValuesToBeBetween", column="unbridged_domain_count", min_value=0, max_value=1),
        ),
        table_suite(
            MARTS_SCHEMA,
            "contact_crosswalk",
            *key_column("source_record_id"),
            expect("ExpectColumnValuesToNotBeNull", column="golden_contact_id"),
        ),
        table_suite(
            MARTS_SCHEMA,
            "dim_accounts",
            *key_column("golden_account_id"),
            expect("ExpectColumnValuesToBeBetween", column="account_domain_count", min_value=0, max_value=1),
        ),
        table_suite(
            MARTS_SCHEMA,
            "account_crosswalk",
            *key_column("source_record_id"),
            expect("ExpectColumnValuesToNotBeNull", column="golden_account_id"),
        ),
    )
}
