"""Account-level intent and fit, rolled up from the lead features (one row per company domain)."""


def model(dbt, session):
    dbt.config(materialized="table")
    import polars as pl

    leads = pl.from_arrow(dbt.ref("fct_lead_features").arrow().read_all())
    decayed = [c for c in leads.columns if c.startswith("decayed_") and not c.endswith("_signal")]
    signals = [c for c in leads.columns if c.startswith("decayed_") and c.endswith("_signal")]
    return (
        leads.filter(pl.col("company_domain").is_not_null())
        .group_by("company_domain")
        .agg(
            pl.len().alias("leads"),
            (pl.col("days_since_last_touch") < 30).sum().alias("leads_engaged_30d"),
            pl.col("icp_match").max().alias("best_icp_match"),
            pl.col("days_since_last_touch").min().alias("days_since_last_touch"),
            *[pl.col(c).sum().alias(f"account_{c}") for c in decayed],
            # Signals are per account already: every lead of the account carries the same value.
            *[pl.col(c).max().alias(c) for c in signals],
            pl.col("features_as_of").max().alias("features_as_of"),
        )
        .sort("company_domain")
        .to_arrow()
    )
