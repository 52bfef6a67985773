"""Contact records -> golden contact ids: auto-merge pairs clustered with the transitive-drift guard.

Re-resolves only what changed: when this table exists, clusters no record change since its last run
touches are carried over as they are (same members, same golden id), and only the touched ones are drawn
again from their pairs (`matching.resolve.recluster_contacts`). The first build, a full refresh
(`dbt build --full-refresh`, `actionhouse refresh --full-refresh`) and a run after the match parameters were
estimated again (all pairs re-scored) cluster everything.

Materialized as an incremental model whose every run replaces the whole table (strategy `replace_all`,
macros/incremental_replace_all.sql): a `table` model would read its previous state even under `--full-refresh`.
"""

import polars as pl

from landing.warehouse import column_names
from matching.contacts import prepare_contact_features
from matching.resolve import recluster_contacts


def _previous_clusters(dbt, session) -> pl.DataFrame | None:
    """This table as the last run left it, or None when there is nothing to carry over."""
    # First build or a full refresh: start from scratch whatever the table holds.
    if not dbt.is_incremental:
        return None
    columns = column_names(session, dbt.this.schema, dbt.this.identifier)
    # First build, or a table from before incremental resolution: nothing to carry over.
    if not {"resolved_through", "parameters_version", "domain_bridges"} <= columns:
        return None
    return session.sql(
        f"select record_id, golden_contact_id, resolved_through, parameters_version from {dbt.this}"
    ).pl()


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="replace_all", on_schema_change="sync_all_columns")
    records = dbt.ref("int_entities__contact_records").pl()
    pairs = dbt.ref("int_entities__contact_pairs").pl()
    changes = dbt.ref("int_entities__contact_record_changes").pl()
    features = prepare_contact_features(records)
    previous = _previous_clusters(dbt, session)
    settings = dict(
        min_probability=float(dbt.config.get("automerge_min_probability")),
        max_cluster_size=int(dbt.config.get("max_cluster_size")),
    )
    version = pairs["parameters_version"].max() if pairs.height else None
    # New match parameters re-scored every pair, so every cluster is drawn again from them.
    if previous is None or previous.is_empty() or not previous["parameters_version"].eq_missing(version).all():
        clusters = recluster_contacts(features, pairs, **settings)
    else:
        resolved_before = previous["resolved_through"].max()
        changed = changes.filter(pl.col("changed_at") > resolved_before)["record_id"]
        clusters = recluster_contacts(
            features, pairs, previous.select("record_id", "golden_contact_id"), changed, **settings
        )
    # Distinct employer domains per cluster, and those no personal identifier bridged (a job change keeps
    # LinkedIn and mobile): the golden gate asserts the unbridged count never exceeds one.
    domains = features.select("record_id", "domain")
    clusters = (
        clusters.join(domains, on="record_id", how="left")
        .with_columns(
            pl.col("domain").n_unique().over("golden_contact_id").alias("employer_domain_count")
            - pl.col("domain").is_null().any().over("golden_contact_id").cast(pl.UInt32),
        )
        .with_columns(
            (pl.col("employer_domain_count").cast(pl.Int64) - pl.col("domain_bridges")).alias("unbridged_domain_count")
        )
        .drop("domain")
    )
    caught_up = pl.lit(changes["changed_at"].max(), dtype=changes.schema["changed_at"])
    return clusters.with_columns(
        caught_up.alias("resolved_through"), pl.lit(version, dtype=pl.Int64).alias("parameters_version")
    ).to_arrow()
