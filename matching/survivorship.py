"""Survivorship: per golden entity and field, which candidate value wins, with its provenance.

Source hierarchy (lower rank wins): a human-verified CRM value > a value a CRM user entered > a vendor
enrichment value (higher confidence first) > a value the pipeline inferred (e.g. seniority from the job
title). Within one rank (and, for enrichment, one confidence) the value most records agree on wins: the
number of distinct source records of that rank giving the value, so two older records that agree beat a
newer duplicate with a typo. Then the most recent observation wins, and the smallest source record id
breaks exact ties so the result never depends on row order.
"""

from __future__ import annotations

import polars as pl

SOURCE_RANKS: dict[str, int] = {"human_verified": 1, "crm_user_entered": 2, "enrichment": 3, "inferred": 4}
CANDIDATE_COLUMNS = (
    "entity_id",
    "field_name",
    "value",
    "source_class",
    "source_name",
    "source_record_id",
    "observed_at",
    "confidence",
)


def select_survivors(candidates: pl.DataFrame) -> pl.DataFrame:
    """Candidate values (see `CANDIDATE_COLUMNS`) -> one winning row per (entity_id, field_name).

    Output: entity_id, field_name, value, source_class, source_name, source_record_id, observed_at,
    confidence, candidate_count, distinct_value_count. Null values never win. Unknown source classes raise.
    Order: source rank, confidence (enrichment), agreement (distinct source records of the same rank giving
    the value), recency, smallest source record id.
    """
    missing = [c for c in CANDIDATE_COLUMNS if c not in candidates.columns]
    if missing:
        raise ValueError(f"survivorship candidates lack columns: {missing}")
    unknown = set(candidates["source_class"].unique().drop_nulls().to_list()) - set(SOURCE_RANKS)
    if unknown or candidates["source_class"].null_count():
        raise ValueError(f"unknown survivorship source classes: {sorted(unknown) or ['<null>']}")
    ranked = candidates.filter(pl.col("value").is_not_null()).with_columns(
        pl.col("source_class").replace_strict(SOURCE_RANKS, return_dtype=pl.Int8).alias("source_rank"),
    )
    # Agreement within a rank: how many distinct source records of that rank give the same value. The
    # rank (and the vendor confidence) still decides first, so a human-verified value is never outvoted.
    ranked = ranked.with_columns(
        pl.col("source_record_id").n_unique().over("entity_id", "field_name", "source_rank", "value").alias("agreement")
    )
    counts = ranked.group_by("entity_id", "field_name").agg(
        pl.len().alias("candidate_count"), pl.col("value").n_unique().alias("distinct_value_count")
    )
    winners = (
        ranked.sort(
            ["entity_id", "field_name", "source_rank", "confidence", "agreement", "observed_at", "source_record_id"],
            descending=[False, False, False, True, True, True, False],
            nulls_last=True,
        )
        .group_by("entity_id", "field_name", maintain_order=True)
        .first()
    )
    return (
        winners.join(counts, on=["entity_id", "field_name"])
        .select(*CANDIDATE_COLUMNS, "candidate_count", "distinct_value_count")
        .sort("entity_id", "field_name")
    )
