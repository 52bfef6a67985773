"""Scored candidate pairs of HubSpot contact records (SQL blocking + rapidfuzz + Fellegi-Sunter, in `matching`)."""

from matching.contacts import MatchConfig, candidate_pairs, prepare_contact_features, score_pairs


def model(dbt, session):
    dbt.config(materialized="table")
    records = dbt.ref("int_entities__contact_records").pl()
    config = MatchConfig(
        automerge_min_probability=float(dbt.config.get("automerge_min_probability")),
        review_min_probability=float(dbt.config.get("review_min_probability")),
    )
    features = prepare_contact_features(records)
    return score_pairs(candidate_pairs(features), features, config).to_arrow()
