"""Scored candidate pairs of HubSpot contact records (SQL blocking + rapidfuzz + Fellegi-Sunter, in `matching`).

Incremental, and an hour's cost follows its delta: a pair's score depends on its two records and the match
parameters alone (the name frequencies and record count it is weighed against are stored with the parameters),
so a run that keeps the parameters draws again only the blocks records joined or left since its last run
(`features_through`): the stored features say which (`int_entities__contact_match_features`), and
`matching.resolve.pairs_to_redraw` gives the records of those blocks, their candidate pairs (block sizes counted
over every record, so a block growing past its cap stops pairing and one shrinking under it starts) and the
earlier pairs no longer proposed. Those are written as placeholder rows the post-hook deletes. The table ends as
scoring every record's pairs would leave it. The first build, a full refresh, newly estimated match parameters,
and a run whose features were rewritten twice since its last run (an earlier run of this model failed) score
every candidate pair: after an estimation, the candidate pairs and comparison levels the parameters model
computed on the same features (handed over in this dbt process: `matching.resolve.take_compared_candidates`), unless
the stored features were written since (`matching.resolve.stored_features_version`).
"""

from itertools import chain

import polars as pl

from landing.chunks import ROWS_PER_CHUNK, chunk_bounds, stream_frames
from landing.warehouse import column_names, release_cached_pages, rows_with_ids
from matching.contacts import MatchConfig, MatchParameters, candidate_pairs, score_pairs
from matching.resolve import (
    live_features_query,
    pairs_to_redraw,
    stored_features_version,
    take_compared_candidates,
)


def _redraw(dbt, session, features_relation: str, since):
    """The hour's pairs (`matching.resolve.PairsRedraw`), or None when everything must be scored again."""
    touched = session.sql(
        f"select record_id, is_removed, block_keys, previous_block_keys, previous_featured_at "
        f"from {features_relation} where featured_at > '{since.isoformat()}'::timestamptz"
    ).pl()
    # A row rewritten twice since this table's last run: its blocks at that run are not known.
    if touched.filter(pl.col("previous_featured_at") > since).height:
        return None
    blocks = "contact_pairs__blocks"

    def with_blocks(labels: pl.Series, sql: str) -> pl.DataFrame:
        session.register(blocks, pl.DataFrame({"block": labels.cast(pl.String)}).to_arrow())
        try:
            return session.sql(sql).pl()
        finally:
            session.unregister(blocks)

    # Each lookup of blocks unnests every record's block labels (~11.5M at 1M records, ~0.7 s of CPU). The first one
    # (the touched records' blocks: an hour's few thousand) keeps its blocks' members, so `rows_in_blocks`, which asks
    # for some of those blocks, reads the members' rows by id instead of unnesting every label again. No labels, no
    # lookup (an hour that changed no record).
    first_members: dict[str, pl.DataFrame | pl.Series] = {}

    def block_sizes(labels: pl.Series) -> pl.DataFrame:
        if labels.is_empty():
            return pl.DataFrame(schema={"block": pl.String, "size": pl.Int64})
        if first_members:
            return with_blocks(
                labels,
                f"select block, count(*) as size from (select unnest(block_keys) as block from {features_relation} "
                f"where not is_removed) where block in (select block from {blocks}) group by block",
            )
        members = with_blocks(
            labels,
            f"select block, record_id from (select unnest(block_keys) as block, record_id from {features_relation} "
            f"where not is_removed) where block in (select block from {blocks})",
        )
        first_members["labels"], first_members["members"] = labels.cast(pl.String), members
        return members.group_by("block").agg(pl.len().cast(pl.Int64).alias("size"))

    def rows_in_blocks(labels: pl.Series, ids: pl.Series) -> pl.DataFrame:
        labels = labels.cast(pl.String)
        known = first_members.get("members")
        if labels.is_empty() or (known is not None and labels.is_in(first_members["labels"].implode()).all()):
            members = [] if labels.is_empty() else [known.filter(pl.col("block").is_in(labels.implode()))["record_id"]]
            current = f"(select * from {features_relation} where not is_removed)"
            return rows_with_ids(session, current, pl.concat([ids.cast(pl.Int64), *members]), ("record_id",))
        ids_view = "contact_pairs__ids"
        session.register(ids_view, pl.DataFrame({"id": ids.cast(pl.Int64)}).to_arrow())
        try:
            return with_blocks(
                labels,
                f"select * from {features_relation} where not is_removed and (record_id in (select id from "
                f"{ids_view}) or record_id in (select record_id from (select record_id, unnest(block_keys) as "
                f"block from {features_relation}) where block in (select block from {blocks})))",
            )
        finally:
            session.unregister(ids_view)

    def earlier_pairs(ids: pl.Series) -> pl.DataFrame:
        return rows_with_ids(session, str(dbt.this), ids, ("left_id", "right_id"), select="left_id, right_id")

    return pairs_to_redraw(touched, block_sizes, rows_in_blocks, earlier_pairs)


def model(dbt, session):
    # New comparisons add columns: appended to the existing table (the new parameters version re-scores every pair).
    dbt.config(
        materialized="incremental",
        unique_key=["left_id", "right_id"],
        incremental_strategy="delete+insert",
        on_schema_change="append_new_columns",
    )
    features_relation = f"({dbt.ref('int_entities__contact_match_features').sql_query()})"
    changes = dbt.ref("int_entities__contact_record_changes")
    caught_up = changes.aggregate("max(changed_at)").fetchall()[0][0]
    features_version = stored_features_version(session, features_relation)
    features_through = features_version.latest
    latest = dbt.ref("int_entities__contact_match_parameters").pl().sort("parameters_version").tail(1)
    parameters = MatchParameters.from_json(latest["parameters"][0])
    version = latest["parameters_version"][0]
    config = MatchConfig(
        automerge_min_probability=float(dbt.config.get("automerge_min_probability")),
        review_min_probability=float(dbt.config.get("review_min_probability")),
        uncorroborated_review_min_probability=float(dbt.config.get("uncorroborated_review_min_probability")),
    )
    redraw = None
    # A table from before the stored features: every pair again.
    if dbt.is_incremental and "features_through" in column_names(session, dbt.this.schema, dbt.this.identifier):
        same_version, since = session.execute(
            f"select coalesce(bool_and(parameters_version = ?), true), max(features_through) from {dbt.this}", [version]
        ).fetchall()[0]
        if same_version and since is not None:
            redraw = _redraw(dbt, session, features_relation, since)
    levels = None  # the candidates' comparison levels, when already computed
    if redraw is not None:
        features, candidates, stale = redraw.features, redraw.candidates, redraw.stale
    else:
        release_cached_pages(session)  # every record's features and candidate pairs are held from here
        # After an estimation in this process on the features as stored now: its features, pairs and levels.
        compared = take_compared_candidates(features_version)
        if compared is not None:
            features, candidates, levels = compared.features, compared.pairs, compared.levels
        else:
            features = session.sql(live_features_query(features_relation, features_version.columns)).pl()
            candidates = candidate_pairs(features)
        stale = pl.DataFrame(schema={"left_id": pl.Int64, "right_id": pl.Int64})
        if dbt.is_incremental:  # every earlier pair blocking no longer proposes goes
            earlier = session.sql(f"select left_id, right_id from {dbt.this}").pl()
            stale = earlier.join(candidates.select("left_id", "right_id"), on=["left_id", "right_id"], how="anti")
    stamps = (
        pl.lit(caught_up, dtype=pl.Datetime("us", "UTC")).alias("scored_through"),
        pl.lit(features_through, dtype=pl.Datetime("us", "UTC")).alias("features_through"),
        pl.lit(version, dtype=pl.Int64).alias("parameters_version"),
    )

    def scored(start: int, end: int) -> pl.DataFrame:
        chunk_levels = None if levels is None else levels.slice(start, end - start)
        chunk = candidates.slice(start, end - start)
        return score_pairs(chunk, features, config, parameters, chunk_levels).with_columns(stamps)

    # A pair's score depends on its two records and the parameters alone: pairs are scored a chunk at a time
    # (`landing.chunks.ROWS_PER_CHUNK` pairs) and streamed to the table, in the candidates' order, so memory
    # follows the chunk rather than the ~7M candidate pairs of 1M contacts. Then the pairs no longer proposed:
    # placeholder rows (no decision) replace them, and the post-hook deletes those.
    rows_per_chunk = int(dbt.config.get("rows_per_chunk") or ROWS_PER_CHUNK)
    bounds = chunk_bounds(pl.repeat(1, candidates.height, eager=True), rows_per_chunk)
    placeholders = stale.select(pl.col("left_id", "right_id").cast(pl.Int64)).with_columns(stamps)
    return stream_frames(chain((scored(start, end) for start, end in bounds), [placeholders]))
