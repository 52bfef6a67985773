"""One call from contact records to scored pairs and clusters (what the dbt Python models and benchmarks run)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import polars as pl

from matching.cluster import DEFAULT_MAX_CLUSTER_SIZE, cluster_pairs
from matching.contacts import (
    BLOCK_CAPS,
    BLOCK_SEPARATOR,
    MatchConfig,
    MatchParameters,
    block_labels,
    candidate_pairs,
    comparison_levels,
    contact_record_features,
    estimate_parameters,
    prepare_contact_features,
    score_pairs,
    with_shared_flags,
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


# Columns the stored matching features (`int_entities__contact_match_features`) keep beside the features.
FEATURE_BOOKKEEPING = (
    "block_keys",
    "is_removed",
    "previous_block_keys",
    "previous_featured_at",
    "featured_at",
    "changes_through",
    "rules_fingerprint",
)
_NO_BLOCKS = pl.lit([], dtype=pl.List(pl.String))


def live_features_query(relation: str, columns: Sequence[str]) -> str:
    """The query of every live record's stored features (`relation`, holding `columns` in this order) sorted by
    record id, without the `FEATURE_BOOKKEEPING` columns: the same frame as `select *` and dropping them, but the
    block label lists (two per record) are never read (at 1M records ~2/3 of the read's CPU went on them)."""
    kept = ", ".join(f'"{name}"' for name in columns if name not in FEATURE_BOOKKEEPING)
    return f"select {kept} from {relation} where not is_removed order by record_id"


class FeaturesVersion(NamedTuple):
    """What tells the stored matching features apart from their state at another moment without reading them
    (`stored_features_version`)."""

    latest: datetime | None  # the latest `featured_at`: the pair model's `features_through`
    rows: int
    # The sum of a hash of every row's (record_id, featured_at): every write of the features stamps the rows it
    # writes with the time of that write, so a write moves it even when the clock went back (the latest stamp kept)
    # and the rows rewritten keep the count; only rows written again at their very stamp would not.
    stamps: int | None
    columns: tuple[str, ...]


def stored_features_version(session, relation: str) -> FeaturesVersion:
    """The version of the stored matching features (`relation`, `int_entities__contact_match_features`): equal at
    two moments when no write of the features came between them. Two small aggregates, where reading the features
    again to compare them cost ~2 s of CPU at 1M records. `session` is a DuckDB connection (dbt-duckdb's model
    session)."""
    columns = tuple(session.sql(f"select * from {relation} limit 0").columns)
    latest, rows, stamps = session.execute(
        f"select max(featured_at), count(*), sum(hash(record_id, featured_at)) from {relation}"
    ).fetchall()[0]
    return FeaturesVersion(latest, rows, None if stamps is None else int(stamps), columns)


def match_features(records: pl.DataFrame) -> pl.DataFrame:
    """Every record's matching features as the warehouse stores them: `prepare_contact_features` plus
    `switchboard_d` (what the shared flags read) and `block_keys` (the labels of the blocks it is in)."""
    features = with_shared_flags(contact_record_features(records)).sort("record_id")
    return features.with_columns(block_labels(features).alias("block_keys"))


def refresh_match_features(
    records: pl.DataFrame,
    removed_ids: pl.Series,
    previous: pl.DataFrame,
    holders_of: Callable[[pl.Series, pl.Series], pl.DataFrame],
) -> pl.DataFrame:
    """The stored feature rows (`match_features` columns, is_removed, previous_block_keys, previous_featured_at) a
    delta rewrites, so that the stored rows end as `match_features` of every record would leave them.

    `records` are the records new or changed since the last run, `removed_ids` those that left the export,
    `previous` the stored rows of both (with block_keys and featured_at), `holders_of(emails, phones)` the stored
    rows of the current records holding one of these canonical emails or phone numbers (phone or mobile).
    A record's features are its own but for the shared flags, which count every holder of its email and numbers
    (`with_shared_flags`): so the holders of any value the changed records hold or held are flagged again, and
    rewritten when a flag flipped (a flag moves the record's blocks). A removed record leaves a row with no
    features and no blocks (is_removed), so the pair model finds the blocks it left.
    """
    ids = records["record_id"].cast(pl.Int64)
    removed_ids = removed_ids.cast(pl.Int64)
    local = contact_record_features(records)
    held = previous.filter(~pl.col("is_removed"))
    emails = pl.concat([local["email_c"], held["email_c"]]).drop_nulls().unique()
    phones = pl.concat([local[c] for c in ("phone_d", "mobile_d")] + [held[c] for c in ("phone_d", "mobile_d")])
    phones = phones.drop_nulls().unique()
    holders = holders_of(emails, phones).filter(~pl.col("record_id").is_in(pl.concat([ids, removed_ids]).implode()))
    flagged = with_shared_flags(pl.concat([local, holders.select(local.columns)], how="vertical_relaxed"))
    fresh, again = flagged.head(local.height), flagged.slice(local.height)
    # A holder's flag on a value outside the delta's was counted over only some of that value's holders: kept.
    values = {
        "email_shared": ("email_c", emails),
        "phone_shared": ("phone_d", phones),
        "mobile_shared": ("mobile_d", phones),
    }
    again = again.with_columns(
        pl.when(pl.col(column).is_in(held_values.implode())).then(pl.col(flag)).otherwise(holders[flag]).alias(flag)
        for flag, (column, held_values) in values.items()
    )
    flipped = pl.any_horizontal(again[flag] != holders[flag] for flag in values)
    rows = pl.concat([fresh, again.filter(again.select(flipped).to_series())]).sort("record_id")
    rows = rows.with_columns(block_labels(rows).alias("block_keys"), pl.lit(False).alias("is_removed"))
    gone = held.filter(pl.col("record_id").is_in(removed_ids.implode())).select(
        "record_id", _NO_BLOCKS.alias("block_keys"), pl.lit(True).alias("is_removed")
    )
    rows = pl.concat([rows, gone], how="diagonal_relaxed")
    kept = ("record_id", "block_keys", "featured_at")
    before = pl.concat([previous.select(kept), holders.select(kept)], how="vertical_relaxed").unique("record_id")
    before = before.rename({"block_keys": "previous_block_keys", "featured_at": "previous_featured_at"})
    rows = rows.join(before, on="record_id", how="left", maintain_order="left")
    return rows.with_columns(pl.col("previous_block_keys").fill_null(_NO_BLOCKS)).sort("record_id")


@dataclass(frozen=True)
class ComparedCandidates:
    """Every candidate pair of some matching features (`candidate_pairs`) and its comparison levels
    (`comparison_levels`): what estimating the match parameters and scoring all pairs both start from."""

    features: pl.DataFrame
    pairs: pl.DataFrame
    levels: pl.DataFrame


# The candidates a parameter estimation compared, kept for the full pair scoring that runs next in the same
# process (`take_compared_candidates`), with the version of the stored features they were compared on.
_handed_over: tuple[ComparedCandidates, FeaturesVersion] | None = None


def compare_candidates(features: pl.DataFrame, hand_over_as: FeaturesVersion | None = None) -> ComparedCandidates:
    """The candidate pairs of `features` and their comparison levels. With `hand_over_as` (the version of the stored
    features `features` were read from: `stored_features_version`) they are also kept for one later
    `take_compared_candidates` of that version in this process (replacing any kept before).

    On a full build (and a re-estimation) the match parameters are estimated on every candidate pair's levels
    and every pair is then scored with them: blocking and comparing ~7M pairs of 1M contacts twice cost more
    than the estimation and the scoring together. The dbt models run in one process, one after the other."""
    global _handed_over
    _handed_over = None  # an earlier estimation's candidates are not kept beside these
    pairs = candidate_pairs(features)
    compared = ComparedCandidates(features=features, pairs=pairs, levels=comparison_levels(pairs, features))
    if hand_over_as is not None:
        _handed_over = compared, hand_over_as
    return compared


def take_compared_candidates(features_version: FeaturesVersion) -> ComparedCandidates | None:
    """The candidates last handed over by `compare_candidates`, when the stored features they were compared on are
    still at `features_version` (`stored_features_version`: then they are the features a read would give, and the
    pairs and levels are a function of the features alone), else None. Either way they are not kept any longer
    (taken once: their memory is the scoring's from here on). The caller scores with the handed-over `features`:
    reading every feature row again only to compare it with them cost ~1.5-2 s of CPU at 1M records."""
    global _handed_over
    handed_over, _handed_over = _handed_over, None
    if handed_over is None or handed_over[1] != features_version:
        return None
    return handed_over[0]


@dataclass
class PairsRedraw:
    """What an incremental pair run draws again: the stored feature rows of the records whose pairs it draws
    (`features`), every candidate pair among them (`candidates`: left_id, right_id, rules), and the earlier
    pairs it replaces that are no candidate any more (`stale`: left_id, right_id)."""

    features: pl.DataFrame
    candidates: pl.DataFrame
    stale: pl.DataFrame


def pairs_to_redraw(
    touched: pl.DataFrame,
    block_sizes: Callable[[pl.Series], pl.DataFrame],
    rows_in_blocks: Callable[[pl.Series, pl.Series], pl.DataFrame],
    earlier_pairs: Callable[[pl.Series], pl.DataFrame],
) -> PairsRedraw:
    """The part of the candidate pairs a delta can change, drawn again so that the pair table ends as blocking
    every record would leave it (a pair's score depends on its two records and the match parameters alone).

    `touched` are the stored feature rows rewritten since the pair table's last run (record_id, is_removed,
    block_keys, previous_block_keys); `block_sizes(labels)` gives blocks' sizes (block, size) over every current
    record, `rows_in_blocks(labels, ids)` the stored feature rows of the current records in one of these blocks
    or with one of these ids, `earlier_pairs(ids)` the pair table's pairs (left_id, right_id) with either id
    in ids. A block a touched record joins or leaves is drawn again when it pairs its records now or did before
    (2 to its rule's cap records: `BLOCK_CAPS`); a block over its cap both before and after pairs nobody either
    way. The records drawn are the touched ones and the members of those blocks; their candidate pairs are the
    pairs among them sharing any block that pairs (counted over all records). Earlier pairs of a touched record
    or between two drawn records that blocking no longer proposes are stale. Any other pair has two untouched
    records that share only untouched blocks, so it is what it was.
    """
    ids = touched["record_id"].cast(pl.Int64)
    current = touched.filter(~pl.col("is_removed"))
    now = current.select("record_id", pl.col("block_keys").alias("block")).explode("block").drop_nulls()
    before = touched.select("record_id", pl.col("previous_block_keys").alias("block")).explode("block").drop_nulls()
    labels = pl.concat([now["block"], before["block"]]).unique()
    rule = pl.col("block").str.split_exact(BLOCK_SEPARATOR, 1).struct.field("field_0")
    cap = rule.replace_strict(BLOCK_CAPS, return_dtype=pl.Int64)
    blocks = (
        pl.DataFrame({"block": labels})
        .join(block_sizes(labels), on="block", how="left")
        .join(now.group_by("block").agg(pl.len().alias("joined")), on="block", how="left")
        .join(before.group_by("block").agg(pl.len().alias("left")), on="block", how="left")
        .with_columns(pl.col("size", "joined", "left").fill_null(0).cast(pl.Int64))
        .with_columns((pl.col("size") - pl.col("joined") + pl.col("left")).alias("size_before"))
    )
    live = blocks.filter(pl.col("size").is_between(2, cap) | pl.col("size_before").is_between(2, cap))["block"]
    members = rows_in_blocks(live, current["record_id"].cast(pl.Int64)).sort("record_id")
    member_labels = members.select(pl.col("block_keys").explode().drop_nulls().unique())["block_keys"]
    features = members.drop([c for c in FEATURE_BOOKKEEPING if c in members.columns])
    candidates = candidate_pairs(features, block_sizes=block_sizes(member_labels))
    drawn = members["record_id"].cast(pl.Int64)
    earlier = earlier_pairs(pl.concat([ids, drawn]).unique()).select(
        pl.col("left_id").cast(pl.Int64), pl.col("right_id").cast(pl.Int64)
    )
    replaced = earlier.filter(
        pl.col("left_id").is_in(ids.implode())
        | pl.col("right_id").is_in(ids.implode())
        | (pl.col("left_id").is_in(drawn.implode()) & pl.col("right_id").is_in(drawn.implode()))
    )
    stale = replaced.join(candidates.select("left_id", "right_id"), on=["left_id", "right_id"], how="anti")
    return PairsRedraw(features=features, candidates=candidates, stale=stale.sort("left_id", "right_id"))


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
