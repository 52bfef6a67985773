"""The contact matcher's learned parameters (u, m per field and the duplicate rate), one row per estimation.

Estimated on the first build, on a full refresh, when the number of contact records has grown by more than
`er_reestimate_after_growth` since the last estimation, and when the saved parameters no longer fit the
matcher's fields (a new version added a comparison); every other run keeps the latest row, so the hourly
delta is scored exactly like the pairs before it (`int_entities__contact_pairs`). `duplicate_rate_source` and
`unidentified_parameters` say which figures the data could not identify (a documented prior stands in).

An estimation reads the stored matching features (`int_entities__contact_match_features`: the same as computing
them from the records, without doing it a second time beside that model and holding both at 1M records). Its
candidate pairs and their comparison levels are handed over to `int_entities__contact_pairs`, which runs next in
the same dbt process and scores every pair after an estimation (`matching.resolve.compare_candidates`), with these
features when the stored ones have not been written since (`matching.resolve.stored_features_version`).
"""

from datetime import UTC, datetime

import polars as pl

from landing.warehouse import release_cached_pages
from matching.contacts import MatchConfig, MatchParameters, estimate_parameters
from matching.resolve import compare_candidates, live_features_query, stored_features_version

SCHEMA = {
    "parameters_version": pl.Int64,
    "estimated_at": pl.Datetime("us", "UTC"),
    "record_count": pl.Int64,
    "candidate_pair_count": pl.Int64,
    "duplicate_rate": pl.Float64,
    "duplicate_rate_source": pl.String,
    "unidentified_parameters": pl.String,
    "namesake_rate": pl.Float64,
    "parameters": pl.String,
}


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append", on_schema_change="append_new_columns")
    records_relation = dbt.ref("int_entities__contact_records")
    # Counted in the engine: most hours keep the parameters, and reading every record into Python only to count
    # them cost as much as the rest of the hour's model (~0.7 s at 100k, and the memory of every record at 1M).
    record_count = records_relation.aggregate("count(*)").fetchall()[0][0]
    version = 1
    if dbt.is_incremental:
        latest = session.execute(
            f"select parameters_version, record_count, parameters from {dbt.this} "
            "order by parameters_version desc limit 1"
        ).fetchall()
        if latest:
            growth = float(dbt.config.get("reestimate_after_growth"))
            fits = MatchParameters.fits(latest[0][2])
            if fits and record_count <= latest[0][1] * (1 + growth):
                return pl.DataFrame(schema=SCHEMA).to_arrow()
            version = latest[0][0] + 1
    # Every record's features and candidate pairs are held from here: the warehouse pages DuckDB keeps cached
    # (~3 GB of this dbt process at 1M records on a full build) go first.
    release_cached_pages(session)
    features_relation = f"({dbt.ref('int_entities__contact_match_features').sql_query()})"
    features_version = stored_features_version(session, features_relation)
    features = session.sql(live_features_query(features_relation, features_version.columns)).pl()
    compared = compare_candidates(features, hand_over_as=features_version)
    parameters = estimate_parameters(compared.pairs, features, MatchConfig(), compared.levels)
    row = {
        "parameters_version": [version],
        "estimated_at": [datetime.now(UTC)],
        "record_count": [record_count],
        "candidate_pair_count": [compared.pairs.height],
        "duplicate_rate": [parameters.duplicate_rate],
        "duplicate_rate_source": [parameters.sources.get("duplicate_rate", "prior")],
        "unidentified_parameters": [", ".join(parameters.unidentified) or None],
        "namesake_rate": [parameters.namesake_rate],
        "parameters": [parameters.to_json()],
    }
    return pl.DataFrame(row, schema=SCHEMA).to_arrow()
