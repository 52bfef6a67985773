"""The lead tiers copy: each golden contact's tier at its first scoring, copied into `raw.lead_tiers` for dbt.

Tiers are scored by the `ml` assets after dbt (`ml.score_log`, published as `ml.lead_scores`), so the outcome marts
cannot read them in the same `dbt build` without a cycle. Like the decision log, this copy runs at the start of a
refresh with no upstream asset: it copies what the previous refreshes scored, and dbt reads it as a source
(`actionhouse.lead_tiers`; docs/outcomes.md "By tier").

Which tier: the one a lead had when Actionhouse first scored it (first published run that had the golden
contact), not today's. A lead's current tier already reflects what happened since — a booked meeting raises its
intent score —, so grouping outcomes by it would credit the tier with its own outcomes. The first tier is carried
forward from the previous copy; only golden contacts new in the published scores take theirs from it. One row per
golden contact of the published scores, in DuckDB SQL: the cost follows the contacts, never the score log's history
(read only once, to seed a warehouse that has scores but no copy yet). No Dagster here:
`orchestration/defs/ml/lead_tiers.py` wires it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from ml.score_log import DEFAULT_TABLE as SCORE_LOG_TABLE
from ml.score_log import table_exists
from ml.table_names import PUBLISHED_TABLE, RUN_VERDICTS_TABLE

TABLE = "raw.lead_tiers"
_DDL = "golden_contact_id varchar, tier integer, scored_at timestamptz, copied_at timestamptz"


@dataclass(frozen=True)
class TierCopyReport:
    rows: int
    new: int  # golden contacts that got their first tier in this copy
    copied_at: datetime


def ensure_lead_tiers_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create an empty `raw.lead_tiers` if there is none (a warehouse nothing was scored in yet)."""
    con.execute("create schema if not exists raw")
    con.execute(f"create table if not exists {TABLE} ({_DDL})")


def _earlier_tiers(con: duckdb.DuckDBPyConnection) -> str:
    """SQL of the first tiers known before this copy: the previous copy; without one, each golden contact's first
    row in the score log among the runs the drift check let through (once); else none."""
    if table_exists(con, TABLE):
        return f"select golden_contact_id, tier, scored_at from {TABLE}"
    if table_exists(con, SCORE_LOG_TABLE) and table_exists(con, RUN_VERDICTS_TABLE):
        return f"""
            select l.contact_id as golden_contact_id,
                   arg_min(l.tier, (l.scored_at, l.run_id)) as tier,
                   timezone('UTC', min(l.scored_at)) as scored_at
            from {SCORE_LOG_TABLE} as l
            where l.run_id in (
                select run_id from {RUN_VERDICTS_TABLE} group by run_id
                having arg_max(verdict, judged_at) in ('ok', 'warn')
            )
            group by l.contact_id"""
    return "select null::varchar as golden_contact_id, null::integer as tier, null::timestamptz as scored_at limit 0"


def copy_lead_tiers(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> TierCopyReport:
    """Replace `raw.lead_tiers` with one row per golden contact of the published scores, each with its first tier,
    in one warehouse transaction (a failed copy leaves the previous one). With no published scores yet, the
    previous copy stays as it is."""
    copied_at = (now or datetime.now(UTC)).astimezone(UTC)
    con.execute("begin transaction")
    try:
        earlier = _earlier_tiers(con)
        con.execute("create schema if not exists raw")
        if table_exists(con, PUBLISHED_TABLE):
            con.execute(
                f"""
                create or replace table {TABLE} as
                with earlier as ({earlier})
                select s.contact_id as golden_contact_id,
                       cast(coalesce(e.tier, s.tier) as integer) as tier,
                       coalesce(e.scored_at, timezone('UTC', s.scored_at)) as scored_at,
                       cast(? as timestamptz) as copied_at,
                       e.golden_contact_id is null as is_new
                from {PUBLISHED_TABLE} as s
                left join earlier as e on e.golden_contact_id = s.contact_id
                """,
                [copied_at],
            )
            new = con.execute(f"select count(*) filter (where is_new) from {TABLE}").fetchone()[0]
            con.execute(f"alter table {TABLE} drop column is_new")
        else:
            ensure_lead_tiers_table(con)
            new = 0
        rows = con.execute(f"select count(*) from {TABLE}").fetchone()[0]
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return TierCopyReport(rows=rows, new=new, copied_at=copied_at)
