"""The console's publication: after each successful refresh, the tables the console reads are copied out of the
warehouse into a separate DuckDB file, written under a temporary name and renamed over the previous one.

DuckDB locks the warehouse file while a refresh writes it, so the console never opens it: it reads the latest
complete publication. A rename is atomic: a reader opens either the previous file or the new one, never half of
one; a reader that opened the previous file keeps reading it (its inode lives until closed).

    report = publish(warehouse_con, Path("data/console/publication.duckdb"), run_id=run_id, models_dir=models)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from console.settings import history_runs, rebuild_every
from landing.warehouse import connect as connect_warehouse

PUBLICATION_VERSION = 2

# Console segments from the lead's company size (the scorer's `employees` feature).
SEGMENT_SQL = """case when s.f_employees >= 1000 then 'Enterprise' when s.f_employees >= 200 then 'Mid-market'
     when s.f_employees is not null then 'SMB' else 'Unknown' end"""

# name -> (warehouse tables it needs, select over the warehouse). Each becomes a table of the publication; one whose
# inputs are not built yet (a gate stopped that part of the refresh) is left out and its page says so.
# `{rows}` in a select stands for the first table it needs, read by a KEYED table's key: a row of the select comes
# from that table's rows of the same key only. A select written so is given, when its table is updated by key, only
# the changed keys' rows of that table (`_select`, `_changed_rows`) instead of the whole table.
TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "scores": (
        (
            "ml.lead_scores",
            "marts.dim_contacts",
            "staging.stg_hubspot__contacts",
            "marts.contact_crosswalk",
            "staging.stg_hubspot__meetings",
            "staging.stg_hubspot__deals",
        ),
        f"""
        with outcomes as ({{outcomes}}),
        converted as (select distinct contact_id from outcomes),
        -- Ranked on the two columns it needs, then joined back by row: a window over the whole row carried every
        -- string of it through its sort.
        deciles as (
            select rowid as score_row, ntile(10) over (order by combined_score, contact_id) as decile
            from ml.lead_scores
        )
        select s.contact_id, s.run_id, s.scored_at, s.model_version, s.fit_score, s.intent_score,
               s.combined_score, s.tier, s.reasons,
               trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) as name,
               c.company_name, c.country_code, c.email,
               coalesce(c.contact_owner, '(no owner)') as owner,
               {SEGMENT_SQL} as segment,
               coalesce(h.original_source, 'unknown') as source,
               d.decile,
               cv.contact_id is not null as converted
        from ml.lead_scores s
        inner join deciles d on d.score_row = s.rowid
        left join marts.dim_contacts c on c.golden_contact_id = s.contact_id
        left join staging.stg_hubspot__contacts h on h.contact_id = c.anchor_record_id
        left join converted cv on cv.contact_id = s.contact_id
        """,
    ),
    "lead_scores": (("ml.lead_scores",), "select * from ml.lead_scores"),
    "score_history": (
        ("ml.score_log",),
        """
        with runs as (
            select run_id from ml.score_log group by run_id order by max(scored_at) desc, run_id desc
            limit {history_runs}
        )
        select run_id, scored_at, contact_id, model_version, fit_score, intent_score, combined_score, tier
        from ml.score_log where run_id in (select run_id from runs)
        """,
    ),
    "tier_movers": (
        ("ml.score_log",),
        """
        with runs as (select run_id, max(scored_at) as last_at from ml.score_log group by run_id),
        ranked as (select run_id, row_number() over (order by last_at desc) as n from runs),
        cur as (select contact_id, tier from ml.score_log where run_id = (select run_id from ranked where n = 1)),
        prev as (select contact_id, tier from ml.score_log where run_id = (select run_id from ranked where n = 2))
        select coalesce(cur.contact_id, prev.contact_id) as contact_id, prev.tier as previous_tier, cur.tier,
               case when cur.tier = 1 then 'into Tier 1' else 'out of Tier 1' end as direction
        from cur full join prev on prev.contact_id = cur.contact_id
        where (select count(*) from ranked) > 1
          and ((cur.tier = 1 and coalesce(prev.tier, 0) <> 1) or (prev.tier = 1 and coalesce(cur.tier, 0) <> 1))
        """,
    ),
    # dim_contacts' bookkeeping `fields_hash` (which contacts an hour writes) is not the console's; a warehouse
    # built before it existed has no such column.
    "contacts": (("marts.dim_contacts",), "select columns(lambda c: c <> 'fields_hash') from {rows}"),
    # The golden fields' `_written_at` (the run that wrote a contact's rows, for their key test) is bookkeeping too.
    "golden_fields": (
        ("intermediate.int_entities__contact_golden_fields",),
        "select columns(lambda c: c <> '_written_at') from {rows}",
    ),
    "crosswalk": (
        ("marts.contact_crosswalk", "staging.stg_hubspot__contacts"),
        """select x.golden_contact_id, x.source_system, x.source_record_id, x.is_anchor_record, x.cluster_size,
               h.first_name, h.last_name, h.email, h.job_title, h.company_name, h.contact_owner,
               h.created_at, h.last_modified_at
        from marts.contact_crosswalk x
        left join staging.stg_hubspot__contacts h
          on x.source_system = 'hubspot' and h.contact_id = x.source_record_id""",
    ),
    "load_files": (("raw.load_files",), "select * from raw.load_files"),
    "quarantine_rows": (("raw.quarantine_rows",), "select * from raw.quarantine_rows"),
    "expectation_results": (("quality.expectation_results",), "select * from quality.expectation_results"),
    "merge_proposals": (("marts.merge_proposals",), "select * from marts.merge_proposals"),
    "enrichment_review": (("marts.enrichment_review",), "select * from marts.enrichment_review"),
    "reply_classifications": (
        ("ml.reply_classifications",),
        "select * from ml.reply_classifications",
    ),
    # Issue 15's closed loop: each workflow's lift vs its holdout group, and its done metrics per week.
    "workflow_lift": (
        ("marts.fct_workflow_lift",),
        "select * from marts.fct_workflow_lift order by workflow, outcome",
    ),
    "workflow_outcomes_weekly": (
        ("marts.fct_workflow_outcomes",),
        """select metric, workflow, segment, period_start, numerator, denominator, rate, median_hours
        from marts.fct_workflow_outcomes where grain = 'week' order by workflow, metric, segment, period_start""",
    ),
}

# Tables updated by key in a copy of the previous publication rather than copied whole: name -> (key column,
# physical order). The keys whose rows differ between the warehouse and the previous publication (the sum of the
# row hashes per key, compared on both sides: changed, new or gone) are deleted and their rows inserted again, in
# that order. A table written whole is written in that order too (UNORDERED ones aside), and gets an ART index on
# its key: rows inserted by later updates sit outside the sorted row groups, where zone maps no longer narrow a
# lead's lookup; the index keeps it a point lookup (measured in docs/scaling.md).
KEYED: dict[str, tuple[str, str]] = {
    "contacts": ("golden_contact_id", "golden_contact_id"),
    "golden_fields": ("golden_contact_id", "golden_contact_id, field_name"),
    "crosswalk": ("golden_contact_id", "golden_contact_id"),
}
# Written whole in this order (no key to update by: every row of the window belongs to a run). By the lead alone:
# its rows stay together, which is what keeps the lead page's lookup to a few row groups, and the page orders them
# by time itself; the time as a second sort key cost ~2.6 s more CPU an hour at 1M with a 24-run window (16.4
# against 13.9 s). Updating the window by run instead (a run in, one out: ~3 s) spreads a lead's rows over one row
# group per run: its lookup went from ~2 to ~33 ms, and an ART index on the id made the hourly checkpoints far
# costlier (docs/scaling.md).
ORDER = {"score_history": "contact_id"}
# KEYED tables written whole in the order they are read, not in their key order: one row per key, and the lead
# page finds that row through the key's ART index alone (an `Index Scan`: no row group scanned, the row fetched by
# its id), so sorting bought the lookup nothing. For `contacts` the sort carried every contact's provenance JSON:
# ~9 of ~80 CPU s of a publication from scratch at 1M (docs/scaling.md). `golden_fields` (~17 rows a key) and the
# crosswalk stay sorted: a key's rows then sit in one row group, not ~17 scattered ones.
UNORDERED = {"contacts"}
# Written whole (else updated by lead: RESCORED below), unsorted, with an ART index on the lead's id (the lead
# page's `where contact_id = ?`; rows an update inserts land anywhere). Sorting them by the id cost ~1 s an hour at
# 1M and did not keep the lookup narrow: the ids share their first 8 bytes ('gc-1000…'), all a varchar zone map
# keeps, so most row groups were read anyway (at 1M 3-8 ms a lookup sorted, 0.6-1.5 ms with the index; docs/scaling.md).
INDEXED = {"scores": "contact_id", "lead_scores": "contact_id"}
# Tables written whole that an update keeps as they are in the copy when their rows did not change since the
# previous publication: the row count and the sum of the row hashes of what would be written (one scan of the
# select, no write), against those stored for the table when it was last written (`UNCHANGED_STATE`). An hour
# lands no deals and no vendor enrichment, yet `deals` and `enrichment_review` were written again each hour (at 1M
# ~1 of ~18 CPU s, and their blocks again in the checkpoint), for a scan of ~0.1 s. (`deals` has a column of the run's
# time, `as_of`, so it is updated by deal instead: DEALS_RESCORED.) The score window and the tier
# movers are not among them: each scoring run changes both, and their selects are the costly part.
KEPT_WHEN_UNCHANGED = frozenset(
    {
        "load_files",
        "quarantine_rows",
        "expectation_results",
        "merge_proposals",
        "enrichment_review",
        "reply_classifications",
        "workflow_lift",
        "workflow_outcomes_weekly",
    }
)


@dataclass(frozen=True)
class Rescored:
    """How a table of INDEXED is updated by key in the copy (else written whole): `key`, and `run_columns`, a
    regular expression naming the columns a scoring run sets anew on most rows. Those are left out of the
    comparison and set in place on the rows whose other columns did not change; rows whose other columns changed
    (or gone, or new) are deleted and inserted again. `materialize`: the select is costly, so it runs once into a
    temporary table that the comparison, the inserts and the in-place update read. `updated_in_place`: a changed
    key of one row on both sides has its row's columns updated in place rather than deleted and inserted again
    (`_update_changed_keys_in_place`)."""

    key: str
    run_columns: str
    materialize: bool
    updated_in_place: bool = False


# Every lead is scored again each run, but a lead's score row rarely changes beyond its run id and time (at 1M
# ~2.5% of leads an hour: the scores come from binned features), nor its features beyond the ones the run's time
# decays (~3.5%); rewriting both tables whole each hour wrote ~900k rows of each to change ~20-30k. Which columns
# are the run's is a matter of cost only: any column left out of the comparison is still copied where it differs.
RESCORED: dict[str, Rescored] = {
    "scores": Rescored("contact_id", r"run_id|scored_at", materialize=True, updated_in_place=True),
    "lead_scores": Rescored(
        "contact_id", r"run_id|scored_at|feature_cutoff|f_decayed_.*|f_days_since_.*", materialize=False
    ),
}
# `deals` (written from the first of DEAL_SOURCES, not from TABLES) updated by deal in the copy the same way: the
# pipeline mart's `as_of` is the refresh's time on every row, and an hour changes a few deals' other columns (at
# 100k 11 of 11,213); written whole it was ~0.7 CPU s an hour at 1M for 111k rows.
DEALS_RESCORED = Rescored("deal_id", r"as_of", materialize=False)

# Counted once per publication from its own `scores` table, so the scores page sums a few rows instead of scanning
# every lead on each request: Tier 1's reasons per filter combination, and the values each filter can take.
# Tier 1's reason counts of the score rows `{rows}`: tier_reasons' rows.
TIER_REASON_COUNTS = """
        with parts as (
            select tier, owner, segment, source,
                   regexp_replace(trim(unnest(string_split(reasons, ';'))), '^[+-][0-9.]+ ', '') as reason
            from {rows} where tier = 1
        )
        select tier, owner, segment, source, reason, count(*) as leads from parts where reason <> '' group by all
        """
DERIVED_SQL = {
    "tier_reasons": "create table {catalog}tier_reasons as " + TIER_REASON_COUNTS.replace("{rows}", "{catalog}scores"),
    "score_filter_values": """
        create table {catalog}score_filter_values as
        select 'owner' as filter, owner as value, count(*) as leads from {catalog}scores group by all
        union all select 'segment', segment, count(*) from {catalog}scores group by all
        union all select 'source', source, count(*) from {catalog}scores group by all
        """,
}


def create_derived(con: duckdb.DuckDBPyConnection, catalog: str = "", skip: frozenset[str] = frozenset()) -> None:
    """Create the derived tables from the `scores` table of `catalog` (`""`: the connection's default), but those
    in `skip`."""
    prefix = f"{catalog}." if catalog else ""
    for name, sql in DERIVED_SQL.items():
        if name not in skip:
            con.execute(sql.format(catalog=prefix))


# When the scores are updated by lead in the copy, the changed leads' Tier 1 reason counts are taken before their
# rows are deleted and after they are inserted again (`_update_rescored`), and `tier_reasons` is the previous
# publication's counts less the first plus the second: counted again from every Tier 1 lead's reasons, it cost
# ~0.8 s CPU an hour at 1M for the ~2.5% of leads whose score rows changed. The run's columns set in place (run id
# and time) are not counted.
REASONS_BEFORE, REASONS_AFTER = "publish_reasons_before", "publish_reasons_after"


def _reasons_follow_rescored_scores() -> bool:
    """Whether the columns tier_reasons counts by are outside the scores' run columns (those are set in place on
    leads not counted again)."""
    return not any(
        re.fullmatch(RESCORED["scores"].run_columns, c) for c in ("tier", "owner", "segment", "source", "reasons")
    )


def _count_changed_reasons(con: duckdb.DuckDBPyConnection, into: str) -> None:
    """Tier 1's reason counts of the published scores' rows of the keys in `publish_delta`, into temp `into`. The
    rows picked by row id: the key column is scanned alone, the other columns read of those rows only."""
    rows = (
        "(select * from console_pub.scores where rowid in "
        "(select rowid from console_pub.scores where contact_id in (select k from publish_delta)))"
    )
    con.execute(f"create or replace temp table {into} as {TIER_REASON_COUNTS.replace('{rows}', rows)}")


def _update_tier_reasons(con: duckdb.DuckDBPyConnection) -> None:
    """`console_pub.tier_reasons` (the previous publication's) brought up to the updated scores by the changed
    leads' counts (REASONS_BEFORE, REASONS_AFTER): the same rows as counted from every lead; a count down to 0
    drops its row."""
    con.execute(
        f"""create or replace temp table publish_reasons as
        select tier, owner, segment, source, reason, sum(leads)::bigint as leads from (
            select * from console_pub.tier_reasons
            union all select tier, owner, segment, source, reason, -leads from {REASONS_BEFORE}
            union all select * from {REASONS_AFTER}
        ) group by all having sum(leads) <> 0"""
    )
    con.execute("drop table console_pub.tier_reasons")
    con.execute("create table console_pub.tier_reasons as select * from publish_reasons")
    for temp in ("publish_reasons", REASONS_BEFORE, REASONS_AFTER):
        con.execute(f"drop table if exists {temp}")


# Deals for the pipeline page: the first of these that exists (the W14 pipeline mart, else staged deals).
DEAL_SOURCES = ("marts.fct_pipeline_deals", "marts.fct_deals", "marts.dim_deals", "staging.stg_hubspot__deals")


@dataclass
class PublicationReport:
    """What one publication wrote: where, when, which tables with how many rows, which were left out."""

    path: Path
    published_at: datetime
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)
    from_scratch: bool = True  # False: started from a copy of the previous publication
    updated: dict[str, int] = field(default_factory=dict)  # KEYED tables updated in that copy: keys changed
    rescored: dict[str, int] = field(default_factory=dict)  # RESCORED tables updated in that copy: keys changed
    unchanged: list[str] = field(default_factory=list)  # KEPT_WHEN_UNCHANGED tables kept as they were in that copy
    deals_rescored: int | None = None  # `deals` updated by deal in that copy: deals changed (None: written whole)


def _existing_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> set[str]:
    rows = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() where database_name = ? "
        "union select schema_name || '.' || view_name from duckdb_views() where database_name = ?",
        [catalog, catalog],
    ).fetchall()
    return {r[0] for r in rows}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    schema, name = table.split(".")
    rows = con.execute(
        "select column_name from duckdb_columns() where database_name = current_database() "
        "and schema_name = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return {r[0] for r in rows}


def _drift_rows(con, models_dir: Path | None) -> list[tuple]:
    """PSI per feature of the latest scoring run against its model's training data: the report the drift check
    kept for that run (ml.pipeline.record_drift_report), else computed here (ml.pipeline.run_drift)."""
    from ml.pipeline import latest_run_id, recorded_drift_report

    run_id = latest_run_id(con)
    if run_id is None:
        return []
    recorded = recorded_drift_report(con, run_id)
    if recorded is not None:
        return recorded
    if models_dir is None or not Path(models_dir).exists():
        return []
    from ml.config import load_config
    from ml.pipeline import run_drift
    from ml.registry import ModelRegistry

    report = run_drift(con, ModelRegistry(models_dir), load_config(), run_id)
    if report is None or report.is_empty():
        return []
    return [(r["column"], float(r["psi"]), float(r["noise_psi"]), r["status"]) for r in report.iter_rows(named=True)]


def _model_rows(models_dir: Path | None, versions: list[str]) -> list[tuple]:
    """Each scored model version with its kind, training time and holdout metrics (from the model registry)."""
    if models_dir is None:
        return []
    from ml.registry import ModelRegistry, RegistryError

    registry = ModelRegistry(models_dir)
    rows = []
    for version in versions:
        try:
            meta = registry.metadata(version)
        except RegistryError:  # the ICP rules fallback is not registered
            rows.append((version, "rules", None, "{}", ""))
            continue
        trained = meta.get("trained_at")
        rows.append(
            (
                version,
                meta.get("kind", ""),
                datetime.fromtimestamp(trained, UTC).replace(tzinfo=None) if trained else None,
                json.dumps(meta.get("holdout_metrics", {})),
                meta.get("fallback_reason", "") or "",
            )
        )
    return rows


def _previous_since_rebuild(con: duckdb.DuckDBPyConnection, history: int, every: int) -> int | None:
    """How many publications since the last one written from scratch, if the publication attached as
    `console_pub` can be updated in place (same format and history window, not due a rebuild); else None."""
    try:
        info = con.execute(
            "select format_version, history_runs, publications_since_rebuild from console_pub.publication_info"
        ).fetchone()
    except duckdb.Error:  # an older format, or not a publication
        return None
    if info is None or info[0] != PUBLICATION_VERSION or info[1] != history or info[2] is None:
        return None
    return None if info[2] + 1 >= every else info[2] + 1


def _describe(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    """Column names and types of a table or a query."""
    return [(r[0], r[1]) for r in con.execute(f"describe select * from {relation}").fetchall()]


# The per-key hash sums of each KEYED table as last published, kept in the publication (tables named
# `publish_state_<name>_key_hashes`, which the console never reads; in the main schema so that an older version's
# publish drops them like any table it does not know): the next update compares the warehouse against them
# instead of hashing the whole previous table again (at 1M that was most of the `contacts` comparison's 7.5 s,
# its provenance JSON read back from the copied file). An update stores the warehouse side's sums, which the
# table then equals key for key; a table written whole drops them, and the next update hashes the table once.
STATE_PREFIX = "publish_state_"
# The RESCORED tables' sums (their run columns left out) are named apart: a publish from before them keeps every
# `publish_state_` table while it rewrites `scores` whole, and would leave sums that no longer describe the table;
# it drops this one like any table it does not know.
RESCORED_STATE_PREFIX = "publish_rescored_state_"


# Per-key fingerprints that stand for a KEYED table's rows at less cost than the rows themselves, used when the
# warehouse table has the columns named: name -> (warehouse table, columns it needs, the rows whose per-key hash
# sums stand for the published rows'). A published contact is dim_contacts' row without `fields_hash`; its
# `provenance` (~3 KB of JSON a contact, read back and hashed: most of the comparison's 2-5 s at 1M) is built from
# the contact's golden fields, which `fields_hash` hashes (int_entities__contact_golden_values rebuilds a contact's
# row exactly when that hash changes; dim_contacts compares it the same way), so every other column and
# `fields_hash` change whenever a published row does. The sums are kept under their own prefix
# (`publish_fingerprint_state_`, unknown to an older publish, which drops them); they cannot be computed from the
# published table (it has no `fields_hash`), so they are stored whenever the table is written whole, and a
# publication without them is compared row by row once.
FINGERPRINTS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "contacts": (
        "marts.dim_contacts",
        ("fields_hash", "provenance"),
        "select * exclude (provenance) from marts.dim_contacts",
    ),
}
FINGERPRINT_STATE_PREFIX = "publish_fingerprint_state_"
# The warehouse's write stamps, which narrow a KEYED table's comparison to the keys written since the previous
# publication: name -> the stamp column of its table (the first it needs; not published). Golden fields stamp every
# row a dbt run writes with that run's one instant (`_written_at`), a contact's rows are always written together
# (delete+insert on the contact; a contact gone loses every row), and rows are never changed but by such a write: a
# contact's first and last stamps and row count then name its rows, and a contact whose three are what the previous
# publication saw holds the rows published then. Those three are stored per key (`publish_stamp_state_`, unknown to
# an older publish, which drops them) whenever the table is written whole or compared whole, and an update hashes
# the rows of the other keys alone (new, gone, written again, or holding a row without a stamp: rows of before the
# column) on both sides, as the whole table was hashed before; only the keys whose rows differ are rewritten (a full
# refresh stamps every row anew, and rewrites nothing that did not change). At 1M the golden fields' 15.2M rows were
# hashed every hour (~0.9 CPU s) to find ~450 contacts; their stamps alone are aggregated in ~0.2 s.
STAMPED: dict[str, str] = {"golden_fields": "_written_at"}
STAMP_STATE_PREFIX = "publish_stamp_state_"
# Above this share of the keys to compare, the whole table is compared as before (the keys' rows picked out of it
# would cost more than the scan).
STAMPED_NARROW_SHARE = 0.5
# The row count and sum of row hashes of each KEPT_WHEN_UNCHANGED table as last written (name, n, h), under a
# prefix an older publish does not know (it drops the table, and rewrites those tables whole as it always did).
UNCHANGED_STATE_PREFIX = "publish_unchanged_state_"
UNCHANGED_STATE = f"console_pub.{UNCHANGED_STATE_PREFIX}table_sums"
# The deals' per-deal sums (DEALS_RESCORED), likewise under a prefix of their own: a publish from before them keeps
# every `publish_rescored_state_` table while it writes `deals` whole, and would leave sums that no longer describe
# it; it drops this one.
DEALS_STATE_PREFIX = "publish_deals_state_"


def _hashes_table(name: str) -> str:
    if name == "deals":
        return f"console_pub.{DEALS_STATE_PREFIX}deals_key_hashes"
    prefix = RESCORED_STATE_PREFIX if name in RESCORED else STATE_PREFIX
    return f"console_pub.{prefix}{name}_key_hashes"


def _fingerprints_table(name: str) -> str:
    return f"console_pub.{FINGERPRINT_STATE_PREFIX}{name}_key_hashes"


def _stamps_table(name: str) -> str:
    return f"console_pub.{STAMP_STATE_PREFIX}{name}_key_stamps"


def _stamps(con: duckdb.DuckDBPyConnection, name: str, present: set[str]) -> str | None:
    """The per-key stamps of `name`'s warehouse table (STAMPED), when it has its stamp column: (k, h), h the hash of
    the key's first and last stamps and row count, NULL when a row of the key has no stamp."""
    if name not in STAMPED:
        return None
    table, stamp = TABLES[name][0][0], STAMPED[name]
    if table not in present or stamp not in _columns(con, table):
        return None
    return (
        f"select {KEYED[name][0]} as k, "
        f"case when count({stamp}) = count(*) then hash(min({stamp}), max({stamp}), count(*)) end as h "
        f"from {table} group by all"
    )


def _store_stamps(con: duckdb.DuckDBPyConnection, name: str, stamps: str) -> None:
    """Store `name`'s per-key stamps whole (the table was just written or compared whole: it equals the
    warehouse's rows)."""
    con.execute(f"create or replace table {_stamps_table(name)} as {stamps}")


def _fingerprint(con: duckdb.DuckDBPyConnection, name: str, present: set[str]) -> str | None:
    """The rows whose per-key hash sums stand for `name`'s (FINGERPRINTS), when the warehouse has what they need."""
    if name not in FINGERPRINTS:
        return None
    table, needs, rows = FINGERPRINTS[name]
    if table not in present or not set(needs) <= _columns(con, table):
        return None
    return rows


def _store_fingerprints(con: duckdb.DuckDBPyConnection, name: str, rows: str) -> None:
    """Store the per-key hash sums of the fingerprint `rows` of `name` whole (the table was just written whole or
    compared row by row, so it equals the warehouse's rows)."""
    key = KEYED[name][0]
    con.execute(
        f"create or replace table {_fingerprints_table(name)} as "
        f"select {key} as k, sum(hash(s)::hugeint) as h from ({rows}) s group by all"
    )


def _compare_key_sums(
    con: duckdb.DuckDBPyConnection, key: str, rows: str, old: str, repeated_keys_changed: bool = False
) -> None:
    """The warehouse side's per-key hash sums of `rows` into `publish_new` (k, h, n rows), and into `publish_delta`
    (k, present) the keys whose sums differ from `old`'s (k, h), gone keys included; `repeated_keys_changed`: a key
    of several rows counts as changed whatever its sum."""
    con.execute(
        f"create or replace temp table publish_new as "
        f"select {key} as k, sum(hash(s)::hugeint) as h, count(*) as n from {rows} s group by all"
    )
    repeated = " or new.n > 1" if repeated_keys_changed else ""
    con.execute(
        f"""create or replace temp table publish_delta as
        select coalesce(new.k, old.k) as k, new.k is not null as present
        from publish_new new full join {old} old on old.k = new.k where new.h is distinct from old.h{repeated}"""
    )


def _changed_rows(table: str, key: str, keys: str = "publish_delta", gone_too: bool = False) -> str:
    """`table`'s rows of the keys still present in `keys` (`publish_delta`; `publish_candidates`, STAMPED), or of
    every key there with `gone_too`, picked by row id: the key column is scanned alone and only the matching rows'
    other columns are read (DuckDB pushes a row id filter into the scan). A filter on the key read every column of
    every row: at 1M, the ~9,000 changed contacts' rows took 2.4 s to insert, most of it every contact's provenance
    JSON read and dropped; by row id 0.17 s. Used where a select reads its table as `{rows}` (TABLES): `contacts`
    and `golden_fields`, and for the published golden fields of the stamp candidates (`_update_by_key`). Not for
    the crosswalk (a join; 1% of contacts changed) nor the lead scores (~2.5% of leads): at 1M they cost the same
    or more so."""
    present = "" if gone_too else " where present"
    return (
        f"(select * from {table} where rowid in "
        f"(select rowid from {table} where {key} in (select k from {keys}{present})))"
    )


# Rows per batch of the order check: ~40 MB of keys at 1M's golden fields (two text columns), a few batches.
ORDER_CHECK_ROWS = 1 << 20


def _in_order(con: duckdb.DuckDBPyConnection, sql: str, order: str) -> bool:
    """Whether `sql`'s rows, in the order a scan gives them, are already sorted by `order` (column names, ascending,
    ties allowed, no NULL in them). For a select reading its table as `{rows}` (one table's rows, projected): a
    full build's golden fields come in key order (their model writes whole contacts sorted), and sorting 15M rows
    again was most of their publication's cost at 1M (`contacts` is not sorted at all: UNORDERED). The key
    columns alone are read, as Arrow batches, and each row compared with the one before (text byte-wise, as
    DuckDB's default collation does); the table written without `order by` then has the same rows in the same
    order, since both scans keep the table's insertion order."""
    settings = con.execute(
        "select current_setting('default_collation'), current_setting('preserve_insertion_order')"
    ).fetchone()
    if settings[0] or not settings[1]:
        return False  # another string order, or scans that may reorder rows
    columns = [c.strip() for c in order.split(",")]
    # On a cursor of its own: a relation's reader on `con` itself is refused while `con` holds a result.
    with contextlib.closing(con.cursor()) as cursor:
        reader = cursor.sql(f"select {', '.join(columns)} from ({sql})").to_arrow_reader(ORDER_CHECK_ROWS)
        with contextlib.closing(reader):
            return _batches_in_order(reader, len(columns))


def _batches_in_order(reader: Any, width: int) -> bool:
    """Whether the rows of `reader`'s batches (`width` columns), one batch after another, never step down."""
    import pyarrow as pa
    import pyarrow.compute as pc

    last = None  # the previous batch's last row, compared with the next batch's first
    for batch in reader:
        if batch.num_rows == 0:
            continue
        if any(batch.column(i).null_count for i in range(width)):
            return False
        arrays = [
            pa.concat_arrays([last.column(i), batch.column(i)]) if last is not None else batch.column(i)
            for i in range(width)
        ]
        if len(arrays[0]) > 1:
            before = [a.slice(0, len(a) - 1) for a in arrays]
            after = [a.slice(1) for a in arrays]
            # after < before, lexicographically over the columns: a step down
            down = pc.less(after[-1], before[-1])
            for i in range(width - 2, -1, -1):
                down = pc.or_(pc.less(after[i], before[i]), pc.and_(pc.equal(after[i], before[i]), down))
            if pc.any(down).as_py():
                return False
        last = batch.slice(batch.num_rows - 1)
    return True


def _select(name: str, history: int, changed_key: str | None = None, keys: str = "publish_delta") -> str:
    """TABLES[name]'s select, its `{rows}` the whole table, or with `changed_key` only the rows of the keys in
    `keys` (the same rows of those keys: the caller still filters on the key)."""
    from ml.warehouse import OUTCOMES_SQL

    needs, sql = TABLES[name]
    rows = needs[0] if changed_key is None else _changed_rows(needs[0], changed_key, keys)
    return sql.format(outcomes=OUTCOMES_SQL, history_runs=history, rows=rows)


def _replace_changed_keys(
    con: duckdb.DuckDBPyConnection, table: str, key: str, source: str, changed: int, order: str | None = None
) -> None:
    """Delete `table`'s rows of the keys in `publish_delta` and insert `source`'s rows of those still present
    (in `order`, when given). `source` may read only those keys' rows (`_changed_rows`)."""
    if not changed:
        return
    con.execute(f"delete from {table} where {key} in (select k from publish_delta)")
    ordered = f" order by {order}" if order else ""
    con.execute(
        f"insert into {table} select * from {source} where {key} in (select k from publish_delta where present)"
        + ordered
    )


def _store_key_sums(con: duckdb.DuckDBPyConnection, hashes: str, stored: bool, changed: int) -> None:
    """Store the warehouse side's per-key sums (`publish_new`) in `hashes` for the next update: rewritten at the
    changed keys only when they were stored (the rest already equal them; rewriting ~1M sums per table each hour
    cost ~0.2-0.4 s at 1M), else written whole."""
    if not stored:
        con.execute(f"create or replace table {hashes} as select k, h from publish_new")
    elif changed:
        con.execute(f"delete from {hashes} where k in (select k from publish_delta)")
        con.execute(
            f"insert into {hashes} select k, h from publish_new where k in (select k from publish_delta where present)"
        )


def _update_by_key(
    con: duckdb.DuckDBPyConnection,
    name: str,
    sql: str,
    changed_sql: str,
    stored: bool = False,
    fingerprint: str | None = None,
    fingerprints_stored: bool = False,
    stamps: str | None = None,
    stamps_stored: bool = False,
    candidate_sql: str | None = None,
) -> int:
    """Bring `console_pub.<name>` up to `sql` by key (see KEYED); returns how many keys changed. `changed_sql`: the
    same select over only the changed keys' rows where it can (`_select`), read for the rows inserted. `stored`: the
    table's per-key hash sums are in `publish_state_…` tables (else they are computed from the table); either way the
    warehouse side's sums are stored for the next update (stored ones rewritten at the changed keys only: the rest
    of a stored table already holds them, and rewriting ~1M sums per table each hour cost ~0.2-0.4 s at 1M).
    `fingerprint`: the rows of FINGERPRINTS[name], when the warehouse has them; their sums are then what is compared
    (when `fingerprints_stored`, else the rows once) and stored, in place of the rows' own. `stamps`: the per-key
    stamps of STAMPED[name], when the warehouse has them; when `stamps_stored` too, only the rows of the keys whose
    stamps differ are compared (`candidate_sql`: the select over those keys' rows), and the stamps are kept up to
    date (stored whole after a whole comparison)."""
    key, order = KEYED[name]
    table = f"console_pub.{name}"
    hashes = _hashes_table(name)
    by_fingerprint = fingerprint is not None and fingerprints_stored
    # The warehouse's stamps are read (into `publish_stamps`) when stored ones can narrow the comparison.
    stamps_read = not by_fingerprint and stamps is not None and stamps_stored and candidate_sql is not None
    try:
        narrowed = stamps_read and _stamp_candidates(con, name, stamps)
        if by_fingerprint:
            rows, old, stored = f"({fingerprint})", _fingerprints_table(name), True
        elif narrowed:
            # Both sides' sums of the candidate keys only: the rest hold the rows they held (STAMPED).
            rows, candidates = f"({candidate_sql})", "(select k from publish_candidates)"
            old = (
                f"(select k, h from {hashes} where k in {candidates})"
                if stored
                else f"(select {key} as k, sum(hash(s)::hugeint) as h from "
                f"{_changed_rows(table, key, 'publish_candidates', gone_too=True)} s group by all)"
            )
        else:
            rows = f"({sql})"
            old = hashes if stored else f"(select {key} as k, sum(hash(s)::hugeint) as h from {table} s group by all)"
        _compare_key_sums(con, key, rows, old)
        changed = con.execute("select count(*) from publish_delta").fetchone()[0]
        _replace_changed_keys(con, table, key, f"({changed_sql})", changed, order)
        if by_fingerprint:
            _store_key_sums(con, old, stored, changed)
        elif fingerprint is None and (stored or not narrowed):  # narrowed: the sums of the candidate keys alone
            _store_key_sums(con, hashes, stored, changed)
        if narrowed:
            stamps_table = _stamps_table(name)
            con.execute(f"delete from {stamps_table} where k in (select k from publish_candidates)")
            con.execute(
                f"insert into {stamps_table} select k, h from publish_stamps "
                "where k in (select k from publish_candidates where present)"
            )
        elif stamps is not None:  # compared whole: the table now equals the warehouse's rows
            _store_stamps(con, name, "select * from publish_stamps" if stamps_read else stamps)
    finally:
        for temp in ("publish_delta", "publish_new", "publish_candidates", "publish_stamps"):
            con.execute(f"drop table if exists {temp}")
    if stamps is None:  # no longer kept up to date
        con.execute(f"drop table if exists {_stamps_table(name)}")
    # Only one kind of sums is kept up to date: the other, left behind, would no longer describe the table.
    if fingerprint is None:
        con.execute(f"drop table if exists {_fingerprints_table(name)}")
    else:
        if not by_fingerprint:  # compared row by row: the table now equals the warehouse's rows
            _store_fingerprints(con, name, fingerprint)
        con.execute(f"drop table if exists {hashes}")
    return changed


def _stamp_candidates(con: duckdb.DuckDBPyConnection, name: str, stamps: str) -> bool:
    """The warehouse's per-key stamps of `name` into temp `publish_stamps` (k, h), and into `publish_candidates`
    (k, present) the keys whose stamps differ from the stored ones (STAMPED: written since, new, gone, or with a row
    without a stamp). Whether they are few enough (STAMPED_NARROW_SHARE) to compare their rows alone."""
    con.execute(f"create or replace temp table publish_stamps as {stamps}")
    con.execute(
        f"""create or replace temp table publish_candidates as
        select coalesce(new.k, old.k) as k, new.k is not null as present
        from publish_stamps new full join {_stamps_table(name)} old on old.k = new.k
        where new.h is null or new.h is distinct from old.h"""
    )
    candidates, keys = con.execute(
        "select (select count(*) from publish_candidates), (select count(*) from publish_stamps)"
    ).fetchone()
    return candidates <= STAMPED_NARROW_SHARE * keys


def _row_sums(con: duckdb.DuckDBPyConnection, selects: dict[str, str]) -> dict[str, tuple[int, int | None]]:
    """Each select's row count and sum of row hashes (equal for the same rows in any order), in one statement: at
    10k a statement's own cost is most of a small table's."""
    if not selects:
        return {}
    sql = " union all ".join(
        f"select '{name}' as name, count(*) as n, sum(hash(s)::hugeint) as h from ({select}) s"
        for name, select in selects.items()
    )
    return {name: (n, h) for name, n, h in con.execute(sql).fetchall()}


def _stored_row_sums(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int | None]]:
    """The KEPT_WHEN_UNCHANGED tables' row sums stored in the attached publication (none when it has none)."""
    exists = con.execute(
        "select count(*) from duckdb_tables() where database_name = 'console_pub' and table_name = ?",
        [UNCHANGED_STATE.removeprefix("console_pub.")],
    ).fetchone()[0]
    if not exists:
        return {}
    return {name: (n, h) for name, n, h in con.execute(f"select name, n, h from {UNCHANGED_STATE}").fetchall()}


def _store_row_sums(con: duckdb.DuckDBPyConnection, sums: dict[str, tuple[int, int | None]]) -> None:
    """Replace the stored row sums by `sums` (the tables as this publication leaves them)."""
    con.execute(f"create or replace table {UNCHANGED_STATE} (name varchar, n bigint, h hugeint)")
    if sums:
        con.executemany(
            f"insert into {UNCHANGED_STATE} values (?, ?, ?::hugeint)",
            [(name, n, None if h is None else str(h)) for name, (n, h) in sorted(sums.items())],
        )


def _keep_if_unchanged(
    con: duckdb.DuckDBPyConnection,
    name: str,
    sql: str,
    kept: set[str],
    stored: dict[str, tuple[int, int | None]],
    sums: dict[str, tuple[int, int | None]],
) -> bool:
    """Whether the copy's KEPT_WHEN_UNCHANGED table `name` can stay as it is: it is there (`kept`) with the same
    columns and types as `sql`, and its stored sums equal `sql`'s (`sums`). Otherwise the caller writes it whole."""
    return (
        name in kept
        and stored.get(name) == sums[name]
        and _describe(con, f"({sql})") == _describe(con, f"console_pub.{name}")
    )


def _run_columns(con: duckdb.DuckDBPyConnection, name: str, relation: str) -> list[str]:
    """The columns of `relation` that RESCORED[name] counts as the scoring run's."""
    spec = DEALS_RESCORED if name == "deals" else RESCORED[name]
    return [c for c, _ in _describe(con, relation) if re.fullmatch(spec.run_columns, c)]


def _update_rescored(con: duckdb.DuckDBPyConnection, name: str, sql: str, stored: bool = False) -> int | None:
    """Bring `console_pub.<name>` up to `sql` by key, its run columns aside (see Rescored); returns how many keys
    changed, or None when it cannot be updated so (a null key: the caller writes the table whole). `stored`: the
    table's per-key sums are in its `publish_rescored_state_…` table (else computed from the table); the warehouse
    side's are stored for the next update, at the changed keys only when they were stored. `name` is one of
    RESCORED, or "deals" (DEALS_RESCORED)."""
    spec = DEALS_RESCORED if name == "deals" else RESCORED[name]
    key = spec.key
    table = f"console_pub.{name}"
    hashes = _hashes_table(name)
    run_columns = _run_columns(con, name, f"({sql})")
    rest = f"* exclude ({', '.join(run_columns)})" if run_columns else "*"
    published = f"(select {key} as k, sum(hash(s)::hugeint) as h from (select {rest} from {table}) s group by all)"
    old = hashes if stored else published
    source = f"({sql})"
    if spec.materialize:
        con.execute(f"create or replace temp table publish_rows as {sql}")
        source = "publish_rows"
    try:
        # A key of several rows is always rewritten: the run columns are set by key, one row to one row.
        _compare_key_sums(con, key, f"(select {rest} from {source})", old, repeated_keys_changed=True)
        if con.execute("select count(*) from publish_delta where k is null").fetchone()[0]:
            return None  # a null key matches no key: delete and insert by key would lose its rows
        changed = con.execute("select count(*) from publish_delta").fetchone()[0]
        if name == "scores":
            _count_changed_reasons(con, REASONS_BEFORE)
        if spec.updated_in_place:
            _update_changed_keys_in_place(con, table, key, source, changed)
        else:
            _replace_changed_keys(con, table, key, source, changed)
        if name == "scores":
            _count_changed_reasons(con, REASONS_AFTER)
        if run_columns:
            _set_run_columns(con, table, key, source, run_columns)
        _store_key_sums(con, hashes, stored, changed)
        return changed
    finally:
        for temp in ("publish_run", "publish_delta", "publish_new", "publish_rows"):
            con.execute(f"drop table if exists {temp}")


def _update_changed_keys_in_place(
    con: duckdb.DuckDBPyConnection, table: str, key: str, source: str, changed: int
) -> None:
    """What `_replace_changed_keys` does, but the changed keys of one row on both sides (nearly all: leads whose
    score moved) get their row's other columns set to `source`'s in place; only the others (new, gone, several
    rows) are deleted and inserted. The same rows result. Deleting ~20,000 of the scores' 907k rows at 1M made the
    next checkpoint rewrite the table's text columns (~1.6 CPU s; the delete of 50 rows ~0.1 s); updating the
    columns that differ costs a few tenths and nothing at the checkpoint."""
    if not changed:
        return
    con.execute(
        f"""create or replace temp table publish_in_place as
        select k from (
            select {key} as k, count(*) as rows from {table}
            where {key} in (select k from publish_delta where present) group by all
        ) published inner join publish_new using (k)
        where published.rows = 1 and publish_new.n = 1"""
    )
    try:
        rows = f"(select * from {source} where {key} in (select k from publish_in_place))"
        columns = [c for c, _ in _describe(con, table) if c != key]
        # Only the columns that differ on some of those rows are set (a lead's score moves, its name and company
        # rarely): at 1M, ~20,000 rows' 2 columns 0.14 CPU s, all 17 ~0.9-1.8 s. Differ: by value, or by hash
        # (-0.0 and 0.0 compare equal but are not the same row for the hash sums).
        if columns:
            differs = con.execute(
                "select "
                + ", ".join(f"bool_or(t.{c} is distinct from r.{c} or hash(t.{c}) <> hash(r.{c}))" for c in columns)
                + f" from {table} t inner join {rows} r on r.{key} = t.{key}"
            ).fetchone()
            columns = [c for c, changed_column in zip(columns, differs, strict=True) if changed_column]
        if columns:
            con.execute(
                f"update {table} t set {', '.join(f'{c} = r.{c}' for c in columns)} "
                f"from {rows} r where r.{key} = t.{key}"
            )
        con.execute(
            f"delete from {table} where {key} in (select k from publish_delta) "
            f"and {key} not in (select k from publish_in_place)"
        )
        con.execute(
            f"insert into {table} select * from {source} "
            f"where {key} in (select k from publish_delta where present) "
            f"and {key} not in (select k from publish_in_place)"
        )
    finally:
        con.execute("drop table if exists publish_in_place")


def _set_run_columns(con: duckdb.DuckDBPyConnection, table: str, key: str, source: str, columns: list[str]) -> None:
    """Set `columns` of `table`'s rows to those of `source`'s row of the same key, where they differ, for the keys
    not in `publish_delta` (one row each; the rows of the others were just inserted from `source`)."""
    differs = " or ".join(f"t.{c} is distinct from r.{c}" for c in columns)
    con.execute(f"create or replace temp table publish_run as select {', '.join(columns)} from {source} limit 1")
    if not con.execute("select count(*) from publish_run").fetchone()[0]:
        return  # no rows
    mixed = con.execute(f"select count(*) from (select 1 from {source} t, publish_run r where {differs} limit 1)")
    if not mixed.fetchone()[0]:
        # One value for every row (the scores' run id and time): set as constants, not joined by key (~3x cheaper
        # at 1M). The rows just inserted have them already.
        value = {c: f"(select {c} from publish_run)" for c in columns}
        con.execute(
            f"update {table} set {', '.join(f'{c} = {value[c]}' for c in columns)} "
            f"where {' or '.join(f'{c} is distinct from {value[c]}' for c in columns)}"
        )
        return
    con.execute(
        f"update {table} t set {', '.join(f'{c} = r.{c}' for c in columns)} "
        f"from (select {key}, {', '.join(columns)} from {source} where {key} not in (select k from publish_delta)) r "
        f"where r.{key} = t.{key} and ({differs})"
    )


@dataclass(frozen=True)
class PreparedPublication:
    """A publication written and synced to its temporary file next to `target`, not yet the console's (`prepare`):
    `swap` makes it the console's, `discard` deletes it."""

    tmp: Path
    target: Path
    report: PublicationReport


def publish(
    warehouse: duckdb.DuckDBPyConnection,
    target: Path,
    *,
    run_id: str | None = None,
    models_dir: Path | None = None,
) -> PublicationReport:
    """Write the console's tables from `warehouse` (a connection, read-only is enough) into a new DuckDB file and
    swap it in as `target` (`prepare`, then `swap`). Returns what was written. A failure leaves the previous
    publication in place."""
    return swap(prepare(warehouse, target, run_id=run_id, models_dir=models_dir))


def swap(prepared: PreparedPublication) -> PublicationReport:
    """Make a prepared publication the console's: renamed over the previous one (atomic on one file system; a page
    reading the old file goes on reading it). Deleted if the rename fails."""
    started = time.perf_counter()
    try:
        os.replace(prepared.tmp, prepared.target)
        _fsync_dir(prepared.target.parent)
    except BaseException:
        discard(prepared)
        raise
    prepared.report.seconds += time.perf_counter() - started
    return prepared.report


def discard(prepared: PreparedPublication) -> None:
    """Delete a prepared publication that is not to be swapped in (its temporary file and any write-ahead log)."""
    for leftover in (prepared.tmp, prepared.tmp.with_name(prepared.tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)


def prepare(
    warehouse: duckdb.DuckDBPyConnection,
    target: Path,
    *,
    run_id: str | None = None,
    models_dir: Path | None = None,
) -> PreparedPublication:
    """Write the console's tables from `warehouse` (a connection, read-only is enough) into a new DuckDB file next
    to `target`, synced to disk, without touching `target` (`swap` or `discard` it). A failure leaves nothing behind.

    The new file starts as a copy of the previous publication when it can be updated (same format and history
    window, fewer than `ACTIONHOUSE_CONSOLE_REBUILD_EVERY` publications since one written from scratch): the
    KEYED and RESCORED tables are then updated by key (only what changed is written), every other table is written
    again.
    Otherwise it starts empty and every table is written."""
    started = time.perf_counter()
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    catalog = warehouse.execute("select current_database()").fetchone()[0]
    present = _existing_tables(warehouse, catalog)
    history = history_runs()
    report = PublicationReport(path=target, published_at=datetime.now(UTC), seconds=0.0)
    attached = False
    try:
        since = None
        if target.exists() and rebuild_every() > 1:
            shutil.copyfile(target, tmp)
            warehouse.execute(f"attach '{tmp}' as console_pub (read_write)")
            attached = True
            since = _previous_since_rebuild(warehouse, history, rebuild_every())
            if since is None:
                warehouse.execute("detach console_pub")
                attached = False
                tmp.unlink()
        if since is None:
            since = 0
            warehouse.execute(f"attach '{tmp}' as console_pub (read_write)")
            attached = True
        is_state = " or ".join(
            f"starts_with(table_name, '{prefix}')"
            for prefix in (
                STATE_PREFIX,
                RESCORED_STATE_PREFIX,
                FINGERPRINT_STATE_PREFIX,
                STAMP_STATE_PREFIX,
                UNCHANGED_STATE_PREFIX,
                DEALS_STATE_PREFIX,
            )
        )
        is_state = f"({is_state})"
        listed = f"select table_name from duckdb_tables() where database_name = 'console_pub' and not {is_state}"
        kept = {r[0] for r in warehouse.execute(listed).fetchall()}
        state = f"select table_name from duckdb_tables() where database_name = 'console_pub' and {is_state}"
        stored = {r[0] for r in warehouse.execute(state).fetchall()}
        # tier_reasons is kept until the scores are known to be updated by lead (else dropped and counted again);
        # the KEPT_WHEN_UNCHANGED tables until their rows are known to be the same (else dropped and written).
        # `deals` too: updated by deal when it can be (DEALS_RESCORED).
        for name in sorted(kept - set(KEYED) - set(RESCORED) - {"tier_reasons", "deals"} - KEPT_WHEN_UNCHANGED):
            warehouse.execute(f"drop table console_pub.{name}")
        reasons_kept = "tier_reasons" in kept
        kept &= set(KEYED) | set(RESCORED) | KEPT_WHEN_UNCHANGED | {"deals"}
        stored_sums = _stored_row_sums(warehouse) if kept else {}
        warehouse.execute(f"drop table if exists {UNCHANGED_STATE}")
        # Their row sums, stored for the next publication (a table left out is not among them).
        row_sums = _row_sums(
            warehouse,
            {
                name: _select(name, history)
                for name in TABLES
                if name in KEPT_WHEN_UNCHANGED and all(t in present for t in TABLES[name][0])
            },
        )
        report.from_scratch = since == 0
        for name, (needs, _) in TABLES.items():
            lacking = [t for t in needs if t not in present]
            if lacking:
                report.missing[name] = lacking
                warehouse.execute(f"drop table if exists console_pub.{name}")
                if name in KEYED or name in RESCORED:
                    warehouse.execute(f"drop table if exists {_hashes_table(name)}")
                    warehouse.execute(f"drop table if exists {_fingerprints_table(name)}")
                    warehouse.execute(f"drop table if exists {_stamps_table(name)}")
                continue
            sql = _select(name, history)
            if name in KEPT_WHEN_UNCHANGED and _keep_if_unchanged(warehouse, name, sql, kept, stored_sums, row_sums):
                report.unchanged.append(name)
                continue
            fingerprint = _fingerprint(warehouse, name, present)
            stamps = _stamps(warehouse, name, present)
            by_key = (name in KEYED or name in RESCORED) and name in kept
            if by_key and _describe(warehouse, f"({sql})") == _describe(warehouse, f"console_pub.{name}"):
                has_sums = _hashes_table(name).removeprefix("console_pub.") in stored
                if name in KEYED:
                    has_fingerprints = _fingerprints_table(name).removeprefix("console_pub.") in stored
                    has_stamps = _stamps_table(name).removeprefix("console_pub.") in stored
                    changed_sql = _select(name, history, KEYED[name][0])
                    candidate_sql = _select(name, history, KEYED[name][0], keys="publish_candidates")
                    report.updated[name] = _update_by_key(
                        warehouse,
                        name,
                        sql,
                        changed_sql,
                        has_sums,
                        fingerprint,
                        has_fingerprints,
                        stamps,
                        has_stamps,
                        candidate_sql if "{rows}" in TABLES[name][1] else None,
                    )
                    continue
                changed = _update_rescored(warehouse, name, sql, has_sums)
                if changed is not None:
                    report.rescored[name] = changed
                    continue
            warehouse.execute(f"drop table if exists console_pub.{name}")
            if name in KEYED or name in RESCORED:  # written whole below: its stored hash sums no longer describe it
                warehouse.execute(f"drop table if exists {_hashes_table(name)}")
                warehouse.execute(f"drop table if exists {_fingerprints_table(name)}")
                warehouse.execute(f"drop table if exists {_stamps_table(name)}")
            order = KEYED[name][1] if name in KEYED and name not in UNORDERED else ORDER.get(name)
            if order and "{rows}" in TABLES[name][1] and _in_order(warehouse, sql, order):
                order = None  # the scan gives the rows in that order already
            warehouse.execute(
                f"create table console_pub.{name} as select * from ({sql}){f' order by {order}' if order else ''}"
            )
            key = KEYED[name][0] if name in KEYED else INDEXED.get(name)
            if key:
                warehouse.execute(f"create index {name}_by_key on console_pub.{name} ({key})")
            if fingerprint is not None:  # cheap, and they cannot be computed from the published table later
                _store_fingerprints(warehouse, name, fingerprint)
            if stamps is not None:
                _store_stamps(warehouse, name, stamps)
        reasons_updated = "scores" in report.rescored and reasons_kept and _reasons_follow_rescored_scores()
        if reasons_updated:
            _update_tier_reasons(warehouse)
        else:
            warehouse.execute("drop table if exists console_pub.tier_reasons")
        for temp in (REASONS_BEFORE, REASONS_AFTER):
            warehouse.execute(f"drop table if exists {temp}")
        if "scores" in report.missing:
            report.missing.update({name: report.missing["scores"] for name in DERIVED_SQL})
        else:
            create_derived(warehouse, "console_pub", skip=frozenset({"tier_reasons"} if reasons_updated else ()))
        deal_source = next((t for t in DEAL_SOURCES if t in present), None)
        if deal_source:
            drop = [
                c for c in ("extra_columns", "_source_file", "_source_line") if c in _columns(warehouse, deal_source)
            ]
            exclude = f" exclude ({', '.join(drop)})" if drop else ""
            deals_sql = f"select *{exclude} from {deal_source}"
            by_deal = "deals" in kept and DEALS_RESCORED.key in _columns(warehouse, deal_source)
            if by_deal and _describe(warehouse, f"({deals_sql})") == _describe(warehouse, "console_pub.deals"):
                has_sums = _hashes_table("deals").removeprefix("console_pub.") in stored
                report.deals_rescored = _update_rescored(warehouse, "deals", deals_sql, has_sums)
            if report.deals_rescored is None:
                warehouse.execute("drop table if exists console_pub.deals")
                warehouse.execute(f"drop table if exists {_hashes_table('deals')}")
                warehouse.execute(f"create table console_pub.deals as {deals_sql}")
        else:
            warehouse.execute("drop table if exists console_pub.deals")
            warehouse.execute(f"drop table if exists {_hashes_table('deals')}")
            report.missing["deals"] = list(DEAL_SOURCES)
        _store_row_sums(warehouse, row_sums)
        warehouse.execute(
            "create table console_pub.drift (feature varchar, psi double, noise_psi double, status varchar)"
        )
        if "ml.score_log" in present:
            drift = _drift_rows(warehouse, models_dir)
            if drift:
                warehouse.executemany("insert into console_pub.drift values (?, ?, ?, ?)", drift)
        warehouse.execute(
            "create table console_pub.models (model_version varchar, kind varchar, trained_at timestamp, "
            "holdout_metrics json, fallback_reason varchar)"
        )
        if "ml.lead_scores" in present:
            versions = [r[0] for r in warehouse.execute("select distinct model_version from ml.lead_scores").fetchall()]
            models = _model_rows(models_dir, versions)
            if models:
                warehouse.executemany("insert into console_pub.models values (?, ?, ?, ?, ?)", models)
        for name in [*TABLES, *DERIVED_SQL, "deals", "drift", "models"]:
            if name not in report.missing:
                report.rows[name] = warehouse.execute(f"select count(*) from console_pub.{name}").fetchone()[0]
        warehouse.execute(
            "create table console_pub.publication_info (published_at timestamp, refresh_run_id varchar, "
            "format_version integer, tables json, missing json, deal_source varchar, history_runs integer, "
            "publications_since_rebuild integer, updated json)"
        )
        warehouse.execute(
            "insert into console_pub.publication_info values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                report.published_at.replace(tzinfo=None),
                run_id,
                PUBLICATION_VERSION,
                json.dumps(report.rows),
                json.dumps(report.missing),
                deal_source,
                history,
                since,
                json.dumps(report.updated),
            ],
        )
        warehouse.execute("checkpoint console_pub")
        warehouse.execute("detach console_pub")
        attached = False
        _fsync(tmp)
    except BaseException:
        if attached:
            with contextlib.suppress(duckdb.Error):
                warehouse.execute("detach console_pub")
        discard(PreparedPublication(tmp=tmp, target=target, report=report))
        raise
    report.seconds = time.perf_counter() - started
    return PreparedPublication(tmp=tmp, target=target, report=report)


def publish_from_file(warehouse_path: Path, target: Path, **kwargs: Any) -> PublicationReport:
    """Open the warehouse read-only, publish, close it (for the command line and the demo)."""
    con = connect_warehouse(warehouse_path, read_only=True)
    try:
        return publish(con, target, **kwargs)
    finally:
        con.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
