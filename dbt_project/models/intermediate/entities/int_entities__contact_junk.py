"""Junk and test rows among the HubSpot contact records (exports and API pulls alike), with their reasons.

Rules in `matching.junk` (lists in the `er_junk_*`, `er_placeholder_email_domains` and `er_disposable_domains`
seeds). A junk record is never paired by the matcher, so it stays its own golden contact, flagged in
`dim_contacts` and kept out of tiers and actions.

Incremental: a run flags only the records new or changed since its last run (`int_entities__contact_record_changes`,
whose fingerprint covers every field the rules read) and replaces their rows (`delete+insert` on record_id); the
post-hook deletes records that left the CRM export. The first build, a full refresh and a run after any matcher
seed changed (`reference_fingerprint`) flag every record.
"""

import polars as pl

from landing.warehouse import previous_rows_fit
from matching.junk import flag_junk
from matching.reference import reference_fingerprint


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        unique_key="record_id",
        incremental_strategy="delete+insert",
        on_schema_change="sync_all_columns",
    )
    rules = reference_fingerprint()
    contacts_sql = f"({dbt.ref('stg_hubspot__contacts').sql_query()})"
    changes_sql = f"({dbt.ref('int_entities__contact_record_changes').sql_query()})"
    columns = "contact_id, first_name, last_name, email, company_name"
    where = ""
    # The last run's flags are kept unless this is a first build or a full refresh, or a matcher seed changed.
    if dbt.is_incremental and previous_rows_fit(session, dbt.this, {"flagged_through"}, rules):
        where = (
            f"where contact_id in (select record_id from {changes_sql} "
            f"where changed_at > (select max(flagged_through) from {dbt.this}))"
        )
    contacts = session.sql(f"select {columns} from {contacts_sql} {where}").pl()
    caught_up = session.execute(f"select max(changed_at) from {changes_sql}").fetchall()[0][0]
    flagged = flag_junk(contacts).select("contact_id", "is_junk", "junk_reasons").rename({"contact_id": "record_id"})
    return flagged.with_columns(
        pl.lit(caught_up, dtype=pl.Datetime("us", "UTC")).alias("flagged_through"),
        pl.lit(rules).alias("rules_fingerprint"),
    ).to_arrow()
