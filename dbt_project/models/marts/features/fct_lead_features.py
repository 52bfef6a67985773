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
    from ml.config import load_config
    from ml.warehouse import lead_features_mart, load_scoring_inputs

    # The scoring step reads these rows back (ml.warehouse.load_lead_features) instead of computing them again.
    return lead_features_mart(load_scoring_inputs(session), load_config()).to_arrow()
