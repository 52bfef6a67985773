"""Junk and test rows among the HubSpot contact records (exports and API pulls alike), with their reasons.

Rules in `matching.junk` (lists in the `er_junk_*`, `er_placeholder_email_domains` and `er_disposable_domains`
seeds). A junk record is never paired by the matcher, so it stays its own golden contact, flagged in
`dim_contacts` and kept out of tiers and actions.
"""

from matching.junk import flag_junk


def model(dbt, session):
    dbt.config(materialized="table")
    contacts = dbt.ref("stg_hubspot__contacts").pl()
    flagged = flag_junk(contacts.select("contact_id", "first_name", "last_name", "email", "company_name"))
    return flagged.select("contact_id", "is_junk", "junk_reasons").rename({"contact_id": "record_id"}).to_arrow()
