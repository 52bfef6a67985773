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
_ENTITY_ORDER = "__entity_order"
_FIELD_ORDER = "__field_order"


def _string_order(values: pl.Series) -> pl.Series:
    """Each value's position among the distinct values in sorted order (NULL stays NULL): a dense rank computed
    on the few distinct values (a field name) instead of sorting every row."""
    distinct = values.drop_nulls().unique().sort()
    return values.replace_strict(distinct, pl.int_range(len(distinct), dtype=pl.UInt32, eager=True), default=None)


def select_survivors(candidates: pl.DataFrame) -> pl.DataFrame:
    """Candidate values (see `CANDIDATE_COLUMNS`) -> one winning row per (entity_id, field_name).

    Output: entity_id, field_name, value, source_class, source_name, source_record_id, observed_at,
    confidence, candidate_count, distinct_value_count, sorted by entity and field. Null values never win; a
    candidate without an entity or a field yields no row. Unknown source classes raise.
    Order: source rank, confidence (enrichment), agreement (distinct source records of the same rank giving
    the value), recency, smallest source record id.
    """
    missing = [c for c in CANDIDATE_COLUMNS if c not in candidates.columns]
    if missing:
        raise ValueError(f"survivorship candidates lack columns: {missing}")
    unknown = set(candidates["source_class"].unique().drop_nulls().to_list()) - set(SOURCE_RANKS)
    if unknown or candidates["source_class"].null_count():
        raise ValueError(f"unknown survivorship source classes: {sorted(unknown) or ['<null>']}")
    # Entities and fields are ranked to integers (dense, in their string order) once: grouping and sorting on
    # integer keys instead of the string ids is most of the cost at a million contacts, and the ranks keep the
    # string order, so the rows and their order are those of sorting by the strings.
    # A candidate without a value, a contact or a field names nothing to survive (no group of its own).
    ranked = candidates.filter(
        pl.col("value").is_not_null() & pl.col("entity_id").is_not_null() & pl.col("field_name").is_not_null()
    )
    ranked = ranked.with_columns(
        pl.col("source_class").replace_strict(SOURCE_RANKS, return_dtype=pl.Int8).alias("source_rank"),
        pl.col("entity_id").rank("dense").alias(_ENTITY_ORDER),
        _string_order(ranked["field_name"]).alias(_FIELD_ORDER),
    )
    # Agreement within a rank: how many distinct source records of that rank give the same value. The
    # rank (and the vendor confidence) still decides first, so a human-verified value is never outvoted.
    ranked = ranked.with_columns(
        pl.col("source_record_id")
        .n_unique()
        .over(_ENTITY_ORDER, _FIELD_ORDER, "source_rank", "value")
        .alias("agreement")
    )
    # One sort; each (entity, field) group then yields its first row (the winner) and its counts in one pass.
    return (
        ranked.sort(
            [_ENTITY_ORDER, _FIELD_ORDER, "source_rank", "confidence", "agreement", "observed_at", "source_record_id"],
            descending=[False, False, False, True, True, True, False],
            nulls_last=[False, False, True, True, True, True, True],
        )
        .group_by(_ENTITY_ORDER, _FIELD_ORDER, maintain_order=True)
        .agg(
            pl.col(list(CANDIDATE_COLUMNS)).first(),
            pl.len().alias("candidate_count"),
            pl.col("value").n_unique().alias("distinct_value_count"),
        )
        .select(*CANDIDATE_COLUMNS, "candidate_count", "distinct_value_count")
    )
