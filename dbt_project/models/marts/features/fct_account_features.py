"""Account-level intent and fit, rolled up from the lead features (one row per company domain)."""


def model(dbt, session):
    dbt.config(materialized="table")
    import polars as pl

    lead_features = dbt.ref("fct_lead_features")
    decayed = [c for c in lead_features.columns if c.startswith("decayed_") and not c.endswith("_signal")]
    signals = [c for c in lead_features.columns if c.startswith("decayed_") and c.endswith("_signal")]
    # Only the leads with a domain and the columns rolled up leave DuckDB (16 of the mart's 52 columns): reading
    # every column of every lead was most of this model's time at a million leads. The rows keep the mart's order.
    columns = ["company_domain", "days_since_last_touch", "icp_match", *decayed, *signals, "features_as_of"]
    leads = pl.from_arrow(
        lead_features.filter("company_domain is not null").select(*[f'"{c}"' for c in columns]).arrow().read_all()
    )
    return (
        leads.group_by("company_domain")
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
