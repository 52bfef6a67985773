"""One call from contact records to scored pairs and clusters (what the dbt Python models and benchmarks run)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from matching.cluster import DEFAULT_MAX_CLUSTER_SIZE, cluster_pairs
from matching.contacts import MatchConfig, candidate_pairs, prepare_contact_features, score_pairs

GOLDEN_CONTACT_PREFIX = "gc-"


@dataclass
class ContactResolution:
    """Scored candidate pairs and the record -> golden contact id assignment."""

    pairs: pl.DataFrame
    clusters: pl.DataFrame


def contact_cannot_link(features: pl.DataFrame) -> pl.DataFrame:
    """Attributes two merged contacts may never disagree on: LinkedIn profile and employer domain."""
    return features.select("record_id", pl.col("linkedin_slug").alias("linkedin"), pl.col("domain").alias("domain"))


def resolve_contacts(
    records: pl.DataFrame, config: MatchConfig | None = None, max_cluster_size: int = DEFAULT_MAX_CLUSTER_SIZE
) -> ContactResolution:
    """Contact records (staging column names, `record_id` = source id) -> pairs + golden clusters.

    Only auto-merge pairs join clusters; review-band pairs are left for a person (merge proposals).
    """
    config = config or MatchConfig()
    features = prepare_contact_features(records)
    pairs = score_pairs(candidate_pairs(features), features, config)
    clusters = cluster_pairs(
        features["record_id"],
        pairs,
        contact_cannot_link(features),
        min_probability=config.automerge_min_probability,
        max_cluster_size=max_cluster_size,
        id_prefix=GOLDEN_CONTACT_PREFIX,
    )
    return ContactResolution(pairs=pairs, clusters=clusters.rename({"cluster_id": "golden_contact_id"}))


def resolve_contacts_incremental(
    records: pl.DataFrame,
    previous_clusters: pl.DataFrame,
    changed_ids: pl.Series,
    config: MatchConfig | None = None,
    max_cluster_size: int = DEFAULT_MAX_CLUSTER_SIZE,
) -> ContactResolution:
    """Re-resolve only what a delta touches: new or changed records (`changed_ids`) against everything.

    `previous_clusters` (record_id, golden_contact_id) is the last run's assignment. Untouched records keep
    their previous clusters (fed to the clustering as certain links); changed records leave theirs and are
    matched again; only pairs with a changed record are scored. Golden ids stay `gc-` + smallest record
    id, so an untouched cluster keeps its id unless a delta merges it into one with a smaller id.
    `pairs` in the result holds only the delta's scored pairs.
    """
    config = config or MatchConfig()
    features = prepare_contact_features(records)
    changed = changed_ids.cast(pl.Int64)
    pairs = score_pairs(candidate_pairs(features, touching=changed), features, config)
    kept = previous_clusters.filter(
        ~pl.col("record_id").is_in(changed.implode()) & pl.col("record_id").is_in(features["record_id"].implode())
    )
    # Previous clusters as certain links: each member to the cluster's smallest remaining member.
    anchors = kept.with_columns(pl.col("record_id").min().over("golden_contact_id").alias("anchor"))
    previous_links = anchors.filter(pl.col("record_id") != pl.col("anchor")).select(
        pl.col("anchor").alias("left_id"), pl.col("record_id").alias("right_id"), pl.lit(1.0).alias("match_probability")
    )
    links = pl.concat([previous_links, pairs.select("left_id", "right_id", "match_probability")])
    clusters = cluster_pairs(
        features["record_id"],
        links,
        contact_cannot_link(features),
        min_probability=config.automerge_min_probability,
        max_cluster_size=max_cluster_size,
        id_prefix=GOLDEN_CONTACT_PREFIX,
    )
    return ContactResolution(pairs=pairs, clusters=clusters.rename({"cluster_id": "golden_contact_id"}))
