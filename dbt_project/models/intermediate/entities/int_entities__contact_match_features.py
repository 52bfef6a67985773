"""Every contact record's matching features and the blocks it is in, as `matching.resolve.match_features` gives them.

The pair model reads these instead of computing every record's features each hour. Incremental: a run computes
the features of the records new or changed since its last run (`int_entities__contact_record_changes`) and flags
again the holders of any email or phone number those records hold or held (whether a value is shared counts every
holder), rewriting the holders whose flag flipped (`matching.resolve.refresh_match_features`). Each rewritten row
keeps the blocks the record was in before (`previous_block_keys`), and a removed record leaves a row without
features or blocks (`is_removed`): the pair model draws again the blocks records joined or left. The first build,
a full refresh and a run after any matcher seed changed (`rules_fingerprint`) compute every record.
"""

from datetime import UTC, datetime

import polars as pl

from landing.warehouse import previous_run, release_cached_pages, rows_with_ids
from matching.reference import reference_fingerprint
from matching.resolve import match_features, refresh_match_features


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        unique_key="record_id",
        incremental_strategy="delete+insert",
        on_schema_change="sync_all_columns",
    )
    rules = reference_fingerprint()
    records_sql = f"({dbt.ref('int_entities__contact_records').sql_query()})"
    changes_sql = f"({dbt.ref('int_entities__contact_record_changes').sql_query()})"
    caught_up = session.execute(f"select max(changed_at) from {changes_sql}").fetchall()[0][0]
    # Carried over unless this is a first build or a full refresh, or a matcher seed changed.
    if dbt.is_incremental and previous_run(session, dbt.this, rules, "changes_through")[0]:
        changes = session.sql(
            f"select record_id, is_removed from {changes_sql} "
            f"where changed_at > (select max(changes_through) from {dbt.this})"
        ).pl()
        changed = changes.filter(~pl.col("is_removed"))["record_id"]
        records = rows_with_ids(session, records_sql, changed, ("record_id",))

        def holders_of(emails: pl.Series, phones: pl.Series) -> pl.DataFrame:
            values = "match_features__values"
            wanted = [
                pl.DataFrame({"value": v}, schema={"value": pl.String}).select(pl.lit(kind).alias("kind"), "value")
                for kind, v in (("email", emails), ("phone", phones))
            ]
            session.register(values, pl.concat(wanted).to_arrow())
            try:
                return session.sql(
                    f"select * from {dbt.this} where not is_removed and ("
                    f"email_c in (select value from {values} where kind = 'email') "
                    f"or phone_d in (select value from {values} where kind = 'phone') "
                    f"or mobile_d in (select value from {values} where kind = 'phone'))"
                ).pl()
            finally:
                session.unregister(values)

        previous = rows_with_ids(session, str(dbt.this), changes["record_id"], ("record_id",))
        rows = refresh_match_features(records, changes.filter(pl.col("is_removed"))["record_id"], previous, holders_of)
    else:
        release_cached_pages(session)  # every record and its features are held from here
        rows = match_features(session.sql(f"select * from {records_sql}").pl()).with_columns(
            pl.lit(False).alias("is_removed"),
            pl.lit([], dtype=pl.List(pl.String)).alias("previous_block_keys"),
            pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("previous_featured_at"),
        )
    return rows.with_columns(
        pl.col("previous_featured_at").cast(pl.Datetime("us", "UTC")),
        # When the row was written (the pair model draws again what was written since its last run).
        pl.lit(datetime.now(UTC), dtype=pl.Datetime("us", "UTC")).alias("featured_at"),
        pl.lit(caught_up, dtype=pl.Datetime("us", "UTC")).alias("changes_through"),
        pl.lit(rules).alias("rules_fingerprint"),
    ).to_arrow()
