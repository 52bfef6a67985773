"""HubSpot company records -> golden account ids (registrable domain, subsidiary map, name + country)."""

from matching.accounts import resolve_accounts


def model(dbt, session):
    dbt.config(materialized="table")
    companies = dbt.ref("stg_hubspot__companies").pl().rename({"company_id": "record_id"})
    subsidiary_map = dbt.ref("er_subsidiary_map").pl()
    return resolve_accounts(companies, subsidiary_map).to_arrow()
