"""Junk and test rows among the form leads: the same rules as for every other contact source (`matching.junk`)."""

from matching.junk import flag_junk


def model(dbt, session):
    dbt.config(materialized="table")
    leads = dbt.ref("stg_forms__leads").pl()
    flagged = flag_junk(leads.select("submission_id", "first_name", "last_name", "email", "company_name"))
    return flagged.select("submission_id", "junk_reasons").to_arrow()
