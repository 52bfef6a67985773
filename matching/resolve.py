"""One call from contact records to scored pairs and clusters (what the dbt Python models and benchmarks run)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from matching.cluster import DEFAULT_MAX_CLUSTER_SIZE, cluster_pairs
from matching.contacts import (
    MatchConfig,
    MatchParameters,
    candidate_pairs,
    comparison_levels,
    estimate_parameters,
    prepare_contact_features,
    score_pairs,
)

GOLDEN_CONTACT_PREFIX = "gc-"
# A person who changes employer keeps their LinkedIn profile and mobile: such a pair may join two domains.
CONTACT_BRIDGEABLE = ("domain",)


@dataclass
class ContactResolution:
    """Scored candidate pairs, the record -> golden contact id assignment, and the match parameters used."""

    pairs: pl.DataFrame
    clusters: pl.DataFrame
    parameters: MatchParameters


def contact_cannot_link(features: pl.DataFrame) -> pl.DataFrame:
    """Attributes two merged contacts may not disagree on: LinkedIn profile (never) and employer domain (only
    over a pair a personal identifier ties: `CONTACT_BRIDGEABLE`)."""
    return features.select("record_id", pl.col("linkedin_slug").alias("linkedin"), pl.col("domain").alias("domain"))


def resolve_contacts(
    records: pl.DataFrame, config: MatchConfig | None = None, max_cluster_size: int = DEFAULT_MAX_CLUSTER_SIZE
) -> ContactResolution:
    """Contact records (staging column names, `record_id` = source id) -> pairs + golden clusters.

    Only auto-merge pairs join clusters; review-band pairs are left for a person (merge proposals).
    """
    config = config or MatchConfig()
    features = prepare_contact_features(records)
    candidates = candidate_pairs(features)
    levels = comparison_levels(candidates, features)
    parameters = estimate_parameters(candidates, features, config, levels)
    pairs = score_pairs(candidates, features, config, parameters, levels)
    clusters = recluster_contacts(
        features, pairs, min_probability=config.automerge_min_probability, max_cluster_size=max_cluster_size
    )
    return ContactResolution(pairs=pairs, clusters=clusters, parameters=parameters)


def recluster_contacts(
    features: pl.DataFrame,
    pairs: pl.DataFrame,
    previous_clusters: pl.DataFrame | None = None,
    changed_ids: pl.Series | None = None,
    min_probability: float = 0.999,
    max_cluster_size: int = DEFAULT_MAX_CLUSTER_SIZE,
) -> pl.DataFrame:
    """Contact features + scored pairs -> record_id, golden_contact_id, cluster_size, domain_bridges (how many
    employer domains a personal identifier joined into the cluster: see `matching.cluster.cluster_pairs`).

    Without `previous_clusters` every record is clustered from scratch. With them (record_id,
    golden_contact_id of the last run) and `changed_ids` (records new or changed since), only the clusters
    a change touches are dissolved and clustered again from their pairs; every other cluster is kept as it
    was, even if clustering all pairs from scratch in a different order might now draw it differently.
    Removed records (in `previous_clusters`, not in `features`) count as changes of their clusters.
    Golden ids are `gc-` + the smallest record id, so an untouched cluster always keeps its id.
    """
    cannot_link = contact_cannot_link(features)
    if previous_clusters is None:
        links = _links(pairs)
    else:
        changed = (changed_ids if changed_ids is not None else pl.Series([], dtype=pl.Int64)).cast(pl.Int64)
        current = features["record_id"].implode()
        removed = previous_clusters.filter(~pl.col("record_id").is_in(current))["record_id"]
        touched_clusters = previous_clusters.filter(
            pl.col("record_id").is_in(pl.concat([changed, removed.cast(pl.Int64)]).implode())
        )["golden_contact_id"].implode()
        kept = previous_clusters.filter(
            ~pl.col("golden_contact_id").is_in(touched_clusters) & pl.col("record_id").is_in(current)
        )
        # Records to cluster again: the changes plus every member of a cluster they touch.
        unsettled = features.filter(~pl.col("record_id").is_in(kept["record_id"].implode()))["record_id"].implode()
        # A kept cluster is one certain link from each member to the cluster's smallest member.
        anchored = kept.with_columns(pl.col("record_id").min().over("golden_contact_id").alias("anchor"))
        previous_links = anchored.filter(pl.col("record_id") != pl.col("anchor")).select(
            pl.col("anchor").cast(pl.Int64).alias("left_id"),
            pl.col("record_id").cast(pl.Int64).alias("right_id"),
            pl.lit(1.0).alias("match_probability"),
            pl.lit(True).alias("bridges"),
        )
        delta_links = pairs.filter(pl.col("left_id").is_in(unsettled) | pl.col("right_id").is_in(unsettled))
        links = pl.concat([previous_links, _links(delta_links)])
    clusters = cluster_pairs(
        features["record_id"],
        links,
        cannot_link,
        min_probability=min_probability,
        max_cluster_size=max_cluster_size,
        id_prefix=GOLDEN_CONTACT_PREFIX,
        bridgeable=CONTACT_BRIDGEABLE,
    )
    return clusters.rename({"cluster_id": "golden_contact_id", "cluster_bridges": "domain_bridges"})


@dataclass
class Redraw:
    """What an incremental clustering run needs: the records to draw (`record_ids`), their last assignment
    (`previous_clusters`: record_id, golden_contact_id) and the scored pairs touching the records to re-cluster."""

    record_ids: pl.Series
    previous_clusters: pl.DataFrame
    pairs: pl.DataFrame


def clusters_to_redraw(
    previous_clusters: pl.DataFrame,
    changes: pl.DataFrame,
    pairs_touching: Callable[[pl.Series], pl.DataFrame],
) -> Redraw:
    """The part of the clustering a delta can change, so that `recluster_contacts` on it alone gives the same
    rows as on every record (its other rows stay as they are).

    `changes` (record_id, is_removed) are the records new, changed or removed since the last run;
    `pairs_touching(ids)` returns the scored pairs with either record in `ids`. The clusters the changes touch
    are drawn again; an auto-merge pair from one of their records may join a carried-over cluster, which is
    then drawn with them (its members linked to its smallest one, as `recluster_contacts` does). Every link of
    the records returned stays among them, and union-find joins only within a connected component, so the
    rest of the clustering cannot change.
    """
    changed = changes["record_id"].cast(pl.Int64)
    removed = changes.filter(pl.col("is_removed"))["record_id"].cast(pl.Int64)
    previous = previous_clusters.with_columns(pl.col("record_id").cast(pl.Int64))
    touched = previous.filter(pl.col("record_id").is_in(changed.implode()))["golden_contact_id"].unique()
    unsettled = pl.concat(
        [previous.filter(pl.col("golden_contact_id").is_in(touched.implode()))["record_id"], changed]
    ).unique()
    unsettled = unsettled.filter(~unsettled.is_in(removed.implode()))
    pairs = pairs_touching(unsettled)
    linked = pl.concat([_links(pairs)["left_id"], _links(pairs)["right_id"]]).cast(pl.Int64).unique()
    reached = previous.filter(pl.col("record_id").is_in(linked.implode()))["golden_contact_id"].unique()
    drawn = previous.filter(pl.col("golden_contact_id").is_in(pl.concat([touched, reached]).implode()))
    record_ids = pl.concat([drawn["record_id"], unsettled]).unique().sort()
    return Redraw(
        record_ids=record_ids.filter(~record_ids.is_in(removed.implode())),
        previous_clusters=drawn.select("record_id", "golden_contact_id"),
        pairs=pairs,
    )


def _links(pairs: pl.DataFrame) -> pl.DataFrame:
    """Scored pairs as clustering edges: only auto-merge decisions link (a pair above the threshold that lacks
    corroboration is a proposal, not a link); pairs scored before the bridge flag existed bridge nothing."""
    bridges = pl.col("bridges") if "bridges" in pairs.columns else pl.lit(False)
    if "decision" in pairs.columns:
        pairs = pairs.filter(pl.col("decision") == "auto_merge")
    return pairs.select("left_id", "right_id", "match_probability", bridges.fill_null(False).alias("bridges"))


def pairs_to_rescore(features: pl.DataFrame, previous_pairs: pl.DataFrame, changed_ids: pl.Series) -> pl.DataFrame:
    """The candidate pairs (left_id, right_id, rules) a change touches, for an incremental run.

    New blocking candidates of the changed records, plus every earlier pair of theirs (`previous_pairs`:
    left_id, right_id) that blocking no longer proposes, so no stale score survives a change: the pair is
    scored again on today's values (a removed record has none, so its pairs fall to no match).
    """
    changed = changed_ids.cast(pl.Int64).implode()
    fresh = candidate_pairs(features, touching=changed_ids.cast(pl.Int64))
    earlier = (
        previous_pairs.filter(pl.col("left_id").is_in(changed) | pl.col("right_id").is_in(changed))
        .select(pl.col("left_id").cast(pl.Int64), pl.col("right_id").cast(pl.Int64))
        .join(fresh.select("left_id", "right_id"), on=["left_id", "right_id"], how="anti")
        .with_columns(pl.lit([], dtype=pl.List(pl.String)).alias("rules"))
    )
    return pl.concat([fresh, earlier.select(fresh.columns)]).sort("left_id", "right_id")


def resolve_contacts_incremental(
    records: pl.DataFrame,
    previous_clusters: pl.DataFrame,
    changed_ids: pl.Series,
    parameters: MatchParameters,
    config: MatchConfig | None = None,
    max_cluster_size: int = DEFAULT_MAX_CLUSTER_SIZE,
) -> ContactResolution:
    """Re-resolve only what a delta touches: new or changed records (`changed_ids`) against everything.

    `parameters` are the last full run's (`ContactResolution.parameters`): the delta is scored with them, so
    its probabilities mean what the full run's do (a delta alone is too small and too skewed to learn from).

    `previous_clusters` (record_id, golden_contact_id) is the last run's assignment. Only pairs with a changed
    record are scored; clusters the delta does not touch are kept as they were (see `recluster_contacts`;
    pairs among the members of a touched cluster are re-scored as well, since that cluster is drawn again).
    `pairs` in the result holds only the pairs scored for the delta.
    """
    config = config or MatchConfig()
    features = prepare_contact_features(records)
    changed = changed_ids.cast(pl.Int64)
    touched = previous_clusters.filter(
        pl.col("golden_contact_id").is_in(
            previous_clusters.filter(pl.col("record_id").is_in(changed.implode()))["golden_contact_id"].implode()
        )
    )["record_id"]
    rescored = pl.concat([changed, touched.cast(pl.Int64)]).unique()
    pairs = score_pairs(candidate_pairs(features, touching=rescored), features, config, parameters)
    clusters = recluster_contacts(
        features,
        pairs,
        previous_clusters,
        changed,
        min_probability=config.automerge_min_probability,
        max_cluster_size=max_cluster_size,
    )
    return ContactResolution(pairs=pairs, clusters=clusters, parameters=parameters)
