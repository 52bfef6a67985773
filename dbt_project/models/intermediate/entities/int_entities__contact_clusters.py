"""Contact records -> golden contact ids: auto-merge pairs clustered with the transitive-drift guard.

Re-resolves only what changed, and reads and writes only that: when this table exists, clusters no record change
since its last run touches are carried over as they are (same members, same golden id, rows left in place), and
only the touched ones are drawn again from their pairs (`matching.resolve.recluster_contacts`). The run reads the
records and pairs of the touched clusters and of the carried-over clusters an auto-merge pair of theirs reaches
(`matching.resolve.clusters_to_redraw`): clustering is union-find over connected components, so drawing those
alone gives exactly what drawing every record would. Their rows are replaced (`delete+insert` on record_id); the
post-hook deletes records that left the CRM export. The first build, a full refresh (`dbt build --full-refresh`,
`actionhouse refresh --full-refresh`) and a run after the match parameters were estimated again (all pairs
re-scored) cluster everything, from the stored matching features (`int_entities__contact_match_features`).
"""

import polars as pl

from landing.warehouse import column_names, rows_with_ids
from matching.contacts import prepare_contact_features
from matching.resolve import FEATURE_BOOKKEEPING, clusters_to_redraw, recluster_contacts


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
    dbt.config(
        materialized="incremental",
        unique_key="record_id",
        incremental_strategy="delete+insert",
        on_schema_change="sync_all_columns",
    )
    records_sql = f"({dbt.ref('int_entities__contact_records').sql_query()})"
    pairs_sql = f"({dbt.ref('int_entities__contact_pairs').sql_query()})"
    changes_relation = dbt.ref("int_entities__contact_record_changes")
    # The latest change is the run's stamp; only the changes since the last run are read (an hour's few hundred, not
    # every record's row with its fingerprint).
    caught_up = changes_relation.aggregate("max(changed_at)").fetchall()[0][0]
    previous = _previous_clusters(dbt, session)
    settings = dict(
        min_probability=float(dbt.config.get("automerge_min_probability")),
        max_cluster_size=int(dbt.config.get("max_cluster_size")),
    )
    version = session.execute(f"select max(parameters_version) from {pairs_sql}").fetchall()[0][0]
    # New match parameters re-scored every pair, so every cluster is drawn again from them.
    if previous is None or previous.is_empty() or not previous["parameters_version"].eq_missing(version).all():
        # Every record's features as `prepare_contact_features` gives them: the stored matching features (written
        # before the pairs read here, the same as computing them from the records; ~17 s of CPU less at 1M).
        stored = f"({dbt.ref('int_entities__contact_match_features').sql_query()})"
        not_features = ", ".join((*FEATURE_BOOKKEEPING, "switchboard_d"))
        features = session.sql(
            f"select * exclude ({not_features}) from {stored} where not is_removed order by record_id"
        ).pl()
        # Only auto-merge pairs link (`matching.resolve`), and only these columns are read: not the ~7M scored
        # pairs of 1M contacts with their 24 columns (clustering sorts its edges, so the order read is moot).
        links = session.sql(
            f"select left_id, right_id, match_probability, bridges, decision from {pairs_sql} "
            "where decision = 'auto_merge'"
        ).pl()
        clusters = recluster_contacts(features, links, **settings)
    else:
        changed = session.sql(
            f"select * from ({changes_relation.sql_query()}) where changed_at > ?",
            params=[previous["resolved_through"].max()],
        ).pl()
        previous = previous.select("record_id", "golden_contact_id")

        def pairs_touching(ids: pl.Series) -> pl.DataFrame:
            return rows_with_ids(session, pairs_sql, ids, ("left_id", "right_id"))

        redraw = clusters_to_redraw(previous, changed, pairs_touching)
        records = rows_with_ids(session, records_sql, redraw.record_ids, ("record_id",))
        features = prepare_contact_features(records)
        clusters = recluster_contacts(
            features, redraw.pairs, redraw.previous_clusters, changed["record_id"], **settings
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
    return clusters.with_columns(
        pl.lit(caught_up, dtype=pl.Datetime("us", "UTC")).alias("resolved_through"),
        pl.lit(version, dtype=pl.Int64).alias("parameters_version"),
    ).to_arrow()
