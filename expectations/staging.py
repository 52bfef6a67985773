"""Staging-stage gate: the normalization promises of the staging models, checked on their output.

dbt's own schema tests run inside `dbt build`; these suites guard the formats later stages rely on
(emails, E.164 phones, ISO countries, role vocabularies) and stop scoring and syncs when they break.
"""

from __future__ import annotations

from actions.catalog import Workflow
from expectations.suite import Suite, expect, key_column, table_suite
from landing.contract import REPLY_LABEL_VOCABULARY, SIGNAL_TYPES

STAGING_SCHEMA = "staging"

EMAIL = r"^[a-z0-9._%+'-]+@[a-z0-9.-]+\.[a-z]{2,}$"
E164 = r"^\+[1-9][0-9]{7,14}$"
ISO_ALPHA2 = r"^[A-Z]{2}$"
DOMAIN = r"^[a-z0-9-]+(\.[a-z0-9-]+)+$"
ROLE_CATEGORIES = [
    "sales",
    "marketing",
    "engineering",
    "it",
    "finance",
    "operations",
    "hr",
    "executive",
    "product",
    "customer_success",
    "other",
]
SENIORITIES = ["c_level", "vp", "director", "manager", "individual_contributor", "intern", "unknown"]


def _person_expectations() -> list:
    return [
        expect("ExpectColumnValuesToMatchRegex", column="email", regex=EMAIL),
        expect("ExpectColumnValuesToMatchRegex", column="email_domain", regex=DOMAIN),
        expect("ExpectColumnValuesToMatchRegex", column="phone", regex=E164),
        expect("ExpectColumnValuesToMatchRegex", column="country_code", regex=ISO_ALPHA2),
        expect("ExpectColumnValuesToBeInSet", column="role_category", value_set=ROLE_CATEGORIES),
        expect("ExpectColumnValuesToBeInSet", column="seniority", value_set=SENIORITIES),
    ]


# Models staged per changed record (incremental, delete+insert on their key, each row carrying the load time of
# the version it holds): each run checks row by row the versions loaded since its last pass (at a million
# contacts the whole contacts table cost ~5 s an hour), and the key over the whole table.
PER_CHANGED_RECORD = {"incremental_by": "_loaded_at", "keys_over_whole_table": True}

STAGING_SUITES: dict[str, Suite] = {
    suite.name: suite
    for suite in (
        table_suite(
            STAGING_SCHEMA,
            "stg_hubspot__contacts",
            *key_column("contact_id"),
            *_person_expectations(),
            **PER_CHANGED_RECORD,
        ),
        table_suite(
            STAGING_SCHEMA,
            "stg_hubspot__companies",
            *key_column("company_id"),
            expect("ExpectColumnValuesToMatchRegex", column="domain", regex=DOMAIN),
            expect("ExpectColumnValuesToMatchRegex", column="country_code", regex=ISO_ALPHA2),
            **PER_CHANGED_RECORD,
        ),
        table_suite(
            STAGING_SCHEMA,
            "stg_hubspot__activities",
            *key_column("activity_id"),
            expect("ExpectColumnValuesToNotBeNull", column="activity_at"),
            expect(
                "ExpectColumnValuesToBeInSet",
                column="activity_type",
                value_set=["CALL", "EMAIL", "TASK", "MEETING", "NOTE"],
            ),
            **PER_CHANGED_RECORD,
        ),
        table_suite(
            STAGING_SCHEMA,
            "stg_forms__leads",
            expect("ExpectColumnValuesToNotBeNull", column="submission_id"),
            expect("ExpectColumnValuesToNotBeNull", column="submitted_at"),
            *_person_expectations(),
        ),
        table_suite(
            STAGING_SCHEMA,
            "stg_email__events",
            expect("ExpectColumnValuesToNotBeNull", column="event_id"),
            expect("ExpectColumnValuesToNotBeNull", column="occurred_at"),
            expect("ExpectColumnValuesToMatchRegex", column="email", regex=EMAIL),
            # Staged incrementally and checked row by row: each run checks the events loaded since its last pass.
            incremental_by="_loaded_at",
        ),
        table_suite(
            STAGING_SCHEMA,
            "stg_hubspot__deals",
            *key_column("deal_id"),
            expect("ExpectColumnValuesToBeBetween", column="amount", min_value=0),
            **PER_CHANGED_RECORD,
        ),
        table_suite(STAGING_SCHEMA, "stg_hubspot__meetings", *key_column("meeting_id"), **PER_CHANGED_RECORD),
        table_suite(STAGING_SCHEMA, "stg_hubspot__tickets", *key_column("ticket_id")),
        table_suite(
            STAGING_SCHEMA,
            "stg_product__usage",
            *key_column("usage_id"),
            expect("ExpectColumnValuesToNotBeNull", column="usage_date"),
            expect("ExpectColumnValuesToMatchRegex", column="account_domain", regex=DOMAIN),
            expect("ExpectColumnValuesToBeBetween", column="active_users", min_value=0),
            expect("ExpectColumnValuesToBeBetween", column="sessions", min_value=0),
            **PER_CHANGED_RECORD,
        ),
        *(
            table_suite(
                STAGING_SCHEMA,
                model,
                expect("ExpectColumnValuesToNotBeNull", column="message_id"),
                expect("ExpectColumnValuesToNotBeNull", column="occurred_at"),
                expect("ExpectColumnValuesToMatchRegex", column="user_email", regex=EMAIL),
                incremental_by="_loaded_at",  # staged incrementally, like the email events
            )
            for model in ("stg_segment__web_events", "stg_segment__product_events")
        ),
        table_suite(
            STAGING_SCHEMA,
            "stg_signals__signals",
            *key_column("signal_id"),
            expect("ExpectColumnValuesToNotBeNull", column="observed_at"),
            expect("ExpectColumnValuesToMatchRegex", column="domain", regex=DOMAIN),
            expect("ExpectColumnValuesToBeInSet", column="signal_type", value_set=list(SIGNAL_TYPES)),
        ),
        table_suite(
            STAGING_SCHEMA,
            "stg_vendors__enrichment",
            *key_column("enrichment_field_id"),
            expect("ExpectColumnValuesToNotBeNull", column="received_at"),
            expect("ExpectColumnValuesToBeInSet", column="object_type", value_set=["contact", "company"]),
            expect("ExpectColumnValuesToBeBetween", column="confidence", min_value=0, max_value=1),
            **PER_CHANGED_RECORD,  # per vendor payload
        ),
        table_suite(
            STAGING_SCHEMA,
            "stg_email__reply_labels",
            *key_column("event_id"),
            expect("ExpectColumnValuesToNotBeNull", column="labelled_at"),
            expect("ExpectColumnValuesToBeInSet", column="reply_label", value_set=list(REPLY_LABEL_VOCABULARY)),
        ),
        # The decision queue's copy (docs/outcomes.md): what the outcome marts compare.
        table_suite(
            STAGING_SCHEMA,
            "stg_actionhouse__decisions",
            *key_column("action_id"),
            expect("ExpectColumnValuesToNotBeNull", column="proposed_at"),
            expect("ExpectColumnValuesToNotBeNull", column="state"),
            expect("ExpectColumnValuesToBeInSet", column="workflow", value_set=[w.value for w in Workflow]),
        ),
        # The lead tiers' copy (docs/outcomes.md "By tier"): the outcome marts' tier segments.
        table_suite(
            STAGING_SCHEMA,
            "stg_actionhouse__lead_tiers",
            *key_column("golden_contact_id"),
            expect("ExpectColumnValuesToBeInSet", column="tier", value_set=[1, 2, 3]),
            expect("ExpectColumnValuesToNotBeNull", column="scored_at"),
        ),
        # The reply classes' copy (docs/outcomes.md "Reply classes"): each reply's newest class.
        table_suite(
            STAGING_SCHEMA,
            "stg_actionhouse__reply_classes",
            *key_column("event_id"),
            expect(
                "ExpectColumnValuesToBeInSet", column="reply_class", value_set=[*REPLY_LABEL_VOCABULARY, "needs_human"]
            ),
        ),
    )
}
