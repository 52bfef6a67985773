"""Scored candidate pairs of HubSpot contact records (SQL blocking + rapidfuzz + Fellegi-Sunter, in `matching`).

Incremental: the first build (or a full refresh) scores every candidate pair; each later run scores only the
pairs of records changed since its last run (`int_entities__contact_record_changes`), replacing their rows.
"""

import polars as pl

from matching.contacts import MatchConfig, candidate_pairs, prepare_contact_features, score_pairs
from matching.resolve import pairs_to_rescore


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key=["left_id", "right_id"], incremental_strategy="delete+insert")
    records = dbt.ref("int_entities__contact_records").pl()
    changes = dbt.ref("int_entities__contact_record_changes").pl()
    config = MatchConfig(
        automerge_min_probability=float(dbt.config.get("automerge_min_probability")),
        review_min_probability=float(dbt.config.get("review_min_probability")),
    )
    features = prepare_contact_features(records)
    if dbt.is_incremental:
        previous_pairs = session.sql(f"select left_id, right_id, scored_through from {dbt.this}").pl()
        scored_before = previous_pairs["scored_through"].max()
        changed = changes.filter(pl.col("changed_at") > scored_before) if scored_before else changes
        pairs = pairs_to_rescore(features, previous_pairs, changed["record_id"])
    else:
        pairs = candidate_pairs(features)
    scored = score_pairs(pairs, features, config)
    # The change time this run has caught up with: the next run starts after it.
    caught_up = pl.lit(changes["changed_at"].max(), dtype=changes.schema["changed_at"])
    return scored.with_columns(caught_up.alias("scored_through")).to_arrow()
