"""Contact records -> golden contact ids: auto-merge pairs clustered with the transitive-drift guard."""

import polars as pl

from matching.cluster import cluster_pairs
from matching.contacts import prepare_contact_features
from matching.resolve import GOLDEN_CONTACT_PREFIX, contact_cannot_link


def model(dbt, session):
    dbt.config(materialized="table")
    records = dbt.ref("int_entities__contact_records").pl()
    pairs = dbt.ref("int_entities__contact_pairs").pl()
    features = prepare_contact_features(records)
    clusters = cluster_pairs(
        features["record_id"],
        pairs,
        contact_cannot_link(features),
        min_probability=float(dbt.config.get("automerge_min_probability")),
        max_cluster_size=int(dbt.config.get("max_cluster_size")),
        id_prefix=GOLDEN_CONTACT_PREFIX,
    )
    # Distinct employer domains per cluster: the golden gate asserts it never exceeds one.
    domains = features.select("record_id", "domain")
    clusters = (
        clusters.join(domains, on="record_id", how="left")
        .with_columns(
            pl.col("domain").n_unique().over("cluster_id").alias("employer_domain_count")
            - pl.col("domain").is_null().any().over("cluster_id").cast(pl.UInt32),
        )
        .drop("domain")
    )
    return clusters.rename({"cluster_id": "golden_contact_id"}).to_arrow()
