"""Scored candidate pairs of HubSpot contact records (SQL blocking + rapidfuzz + Fellegi-Sunter, in `matching`).

Incremental: the first build, a full refresh or newly estimated match parameters score every candidate pair;
each other run scores only the pairs of records changed since its last run (`int_entities__contact_record_changes`),
with the same parameters, replacing their rows.
"""

import polars as pl

from landing.warehouse import rows_with_ids
from matching.contacts import MatchConfig, MatchParameters, candidate_pairs, prepare_contact_features, score_pairs
from matching.resolve import pairs_to_rescore


def model(dbt, session):
    # New comparisons add columns: appended to the existing table (the new parameters version re-scores every pair).
    dbt.config(
        materialized="incremental",
        unique_key=["left_id", "right_id"],
        incremental_strategy="delete+insert",
        on_schema_change="append_new_columns",
    )
    records = dbt.ref("int_entities__contact_records").pl()
    changes = dbt.ref("int_entities__contact_record_changes").pl()
    latest = dbt.ref("int_entities__contact_match_parameters").pl().sort("parameters_version").tail(1)
    parameters = MatchParameters.from_json(latest["parameters"][0])
    version = latest["parameters_version"][0]
    config = MatchConfig(
        automerge_min_probability=float(dbt.config.get("automerge_min_probability")),
        review_min_probability=float(dbt.config.get("review_min_probability")),
        uncorroborated_review_min_probability=float(dbt.config.get("uncorroborated_review_min_probability")),
    )
    features = prepare_contact_features(records)
    if dbt.is_incremental:
        same_version, scored_before = session.execute(
            f"select coalesce(bool_and(parameters_version = ?), true), max(scored_through) from {dbt.this}", [version]
        ).fetchall()[0]
        if same_version:
            changed = changes.filter(pl.col("changed_at") > scored_before) if scored_before else changes
            # Only the earlier pairs of the changed records are read (the table grows faster than the records).
            previous = rows_with_ids(
                session, str(dbt.this), changed["record_id"], ("left_id", "right_id"), select="left_id, right_id"
            )
            pairs = pairs_to_rescore(features, previous, changed["record_id"])
        else:  # new parameters: every pair again, and earlier pairs blocking no longer proposes as well
            previous = session.sql(f"select left_id, right_id from {dbt.this}").pl()
            pairs = pairs_to_rescore(features, previous, features["record_id"])
    else:
        pairs = candidate_pairs(features)
    scored = score_pairs(pairs, features, config, parameters)
    # The change time this run has caught up with: the next run starts after it.
    caught_up = pl.lit(changes["changed_at"].max(), dtype=changes.schema["changed_at"])
    return scored.with_columns(
        caught_up.alias("scored_through"), pl.lit(version, dtype=pl.Int64).alias("parameters_version")
    ).to_arrow()
