"""HubSpot company records -> golden account ids (registrable domain, subsidiary map, name + country).

Incremental, following the hour's delta: an hour in which no company record was staged again (the usual hour:
contacts and events arrive, companies rarely change) and no matcher seed changed reads one watermark and writes
nothing. When some did, every record is resolved again from the seven columns the rules read (an account
clusters across records by domain, name and parent, so one changed record can move others:
`matching.accounts.resolve_accounts`), and only the rows that differ from the last run's, plus those of the
records staged again, are written (`delete+insert` on record_id); the post-hook deletes records that left the
export. The first build, a full refresh and a run after any matcher seed changed (`reference_fingerprint`:
`er_subsidiary_map`, `er_region_words`) write every record.
"""

import polars as pl

from landing.warehouse import previous_run
from matching.accounts import resolve_accounts
from matching.reference import reference_fingerprint

RULE_INPUTS = "company_id as record_id, company_name, domain, website_domain, country_code, city, parent_company_id"


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        unique_key="record_id",
        incremental_strategy="delete+insert",
        on_schema_change="sync_all_columns",
    )
    rules = reference_fingerprint()
    companies_sql = f"({dbt.ref('stg_hubspot__companies').sql_query()})"
    caught_up = session.execute(f"select max(_loaded_at) from {companies_sql}").fetchall()[0][0]
    # kept: the last run's rows can be compared against (same matcher seeds, bookkeeping columns); through: the
    # newest staging load it had resolved.
    kept, through = previous_run(session, dbt.this, rules, "resolved_through") if dbt.is_incremental else (False, None)
    if kept and through is not None and caught_up is not None and caught_up <= through:
        return _stamped(_empty(), caught_up, rules)  # nothing staged since the last run: every row stands
    companies = session.sql(f"select {RULE_INPUTS} from {companies_sql}").pl()
    accounts = resolve_accounts(companies, dbt.ref("er_subsidiary_map").pl())
    if kept:
        previous = session.sql(f"select {', '.join(accounts.columns)} from {dbt.this}").pl()
        # The records staged again are written even when their row is the same: their stamp moves the watermark.
        restaged = companies["record_id"]
        if through is not None:
            restaged = session.sql(
                f"select company_id as record_id from {companies_sql} where _loaded_at > ?", params=[through]
            ).pl()["record_id"]
        differs = accounts.join(previous, on=accounts.columns, how="anti", nulls_equal=True)["record_id"]
        accounts = accounts.filter(pl.col("record_id").is_in(differs) | pl.col("record_id").is_in(restaged))
    return _stamped(accounts, caught_up, rules)


def _empty() -> pl.DataFrame:
    return resolve_accounts(pl.DataFrame({"record_id": pl.Series([], dtype=pl.Int64)}))


def _stamped(accounts: pl.DataFrame, caught_up, rules: str):
    return accounts.with_columns(
        pl.lit(caught_up, dtype=pl.Datetime("us")).alias("resolved_through"),
        pl.lit(rules).alias("rules_fingerprint"),
    ).to_arrow()
