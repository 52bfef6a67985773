"""Point-in-time lead features per golden contact, as of the data's latest event.

Computed by `ml.features.build_features` — the very code training and scoring use — so this mart and the
score log can never disagree about what a feature means. Key: `contact_id` = `marts.dim_contacts.golden_contact_id`
(see docs/scoring.md, "Lead key").
"""


def model(dbt, session):
    dbt.config(materialized="table")
    # ml.warehouse reads these tables by name; ref() (literal names only) makes dbt build them first.
    dbt.ref("dim_contacts")
    dbt.ref("contact_crosswalk")
    dbt.ref("dim_accounts")
    dbt.ref("account_crosswalk")
    dbt.ref("stg_hubspot__contacts")
    dbt.ref("stg_hubspot__companies")
    dbt.ref("stg_hubspot__meetings")
    dbt.ref("stg_hubspot__deals")
    dbt.ref("stg_email__events")
    dbt.ref("stg_segment__web_events")
    dbt.ref("stg_segment__product_events")
    dbt.ref("stg_signals__signals")
    import polars as pl

    from ml.config import load_config
    from ml.features import build_features
    from ml.warehouse import load_scoring_inputs

    inputs = load_scoring_inputs(session)
    features = build_features(inputs.contacts, inputs.events, inputs.signals, inputs.now, load_config())
    domains = inputs.contacts.select("contact_id", "company_domain")
    return (
        features.join(domains, on="contact_id", how="left")
        .with_columns(pl.from_epoch(pl.col("feature_cutoff").cast(pl.Int64), time_unit="s").alias("features_as_of"))
        .to_arrow()
    )
