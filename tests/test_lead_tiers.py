"""The lead tiers asset: the published scores' tiers copied into raw.lead_tiers, one row per golden contact, each
with its tier at its first scoring (carried forward from the previous copy), replaced wholly on each copy."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import duckdb

from ml.lead_tiers import copy_lead_tiers
from orchestration.defs.ml.lead_tiers import LEAD_TIERS_KEY, lead_tiers
from orchestration.resources import WarehouseResource

FIRST, SECOND = datetime(2026, 11, 2, 9, 0), datetime(2026, 11, 2, 10, 0)


def _publish(con: duckdb.DuckDBPyConnection, run_id: str, scored_at: datetime, tiers: dict[str, int]) -> None:
    """What `ml.pipeline.publish_scores` leaves: one run's score-log rows (naive UTC scored_at, int8 tier)."""
    con.execute("create schema if not exists ml")
    con.execute(
        "create or replace table ml.lead_scores as select * from (values "
        + ", ".join(f"('{run_id}', timestamp '{scored_at}', '{gc}', cast({t} as tinyint))" for gc, t in tiers.items())
        + ") as v(run_id, scored_at, contact_id, tier)"
    )


def _tiers(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    con.execute("set TimeZone = 'UTC'")
    return con.execute(
        "select golden_contact_id, tier, scored_at, count(*) over () as n, count(distinct copied_at) over () "
        "from raw.lead_tiers order by golden_contact_id"
    ).fetchall()


def test_asset_copies_first_tiers_and_replaces_the_table(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    resources = {"warehouse": WarehouseResource(database_path=str(path), landing_dir=str(tmp_path / "landing"))}
    # Nothing scored yet: an empty table dbt can read.
    result = dg.materialize([lead_tiers], resources=resources)
    assert result.success
    (materialization,) = result.asset_materializations_for_node("raw__lead_tiers")
    assert materialization.asset_key == LEAD_TIERS_KEY and materialization.metadata["dagster/row_count"].value == 0

    con = duckdb.connect(str(path))
    _publish(con, "r1", FIRST, {"gc-1": 1, "gc-2": 3})
    con.close()
    result = dg.materialize([lead_tiers], resources=resources)
    (materialization,) = result.asset_materializations_for_node("raw__lead_tiers")
    assert materialization.metadata["new"].value == 2
    con = duckdb.connect(str(path))
    first = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert _tiers(con) == [("gc-1", 1, first, 2, 1), ("gc-2", 3, first, 2, 1)]

    # The next run re-tiers gc-1 (its intent rose: say it booked a meeting), drops gc-2 (merged into gc-1) and
    # scores gc-3 for the first time: gc-1 keeps its first tier, gc-3 gets its own, gc-2 is gone.
    _publish(con, "r2", SECOND, {"gc-1": 2, "gc-3": 2})
    report = copy_lead_tiers(con, now=datetime(2026, 11, 2, 11, 0, tzinfo=UTC))
    assert (report.rows, report.new) == (2, 1)
    second = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    assert _tiers(con) == [("gc-1", 1, first, 2, 1), ("gc-3", 2, second, 2, 1)]
    # No published scores (dropped): the previous copy stays as it was.
    con.execute("drop table ml.lead_scores")
    assert copy_lead_tiers(con).rows == 2
    assert _tiers(con)[0][:3] == ("gc-1", 1, first)
    con.close()


def test_a_warehouse_without_a_copy_is_seeded_from_the_score_log_of_published_runs(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema ml")
    con.execute(
        "create table ml.score_log as select * from (values "
        "('r0', timestamp '2026-11-01 08:00', 'gc-1', cast(3 as tinyint)), "  # blocked by the drift check
        "('r1', timestamp '2026-11-01 09:00', 'gc-1', cast(2 as tinyint)), "
        "('r2', timestamp '2026-11-01 10:00', 'gc-1', cast(1 as tinyint)), "
        "('r2', timestamp '2026-11-01 10:00', 'gc-2', cast(1 as tinyint))) as v(run_id, scored_at, contact_id, tier)"
    )
    con.execute(
        "create table ml.score_run_verdicts as select * from (values ('r0', 'block', now()), ('r1', 'warn', now()), "
        "('r2', 'ok', now())) as v(run_id, verdict, judged_at)"
    )
    con.execute("create table ml.lead_scores as select * from ml.score_log where run_id = 'r2'")
    report = copy_lead_tiers(con)
    assert (report.rows, report.new) == (2, 0)
    assert [row[:3] for row in _tiers(con)] == [
        ("gc-1", 2, datetime(2026, 11, 1, 9, 0, tzinfo=UTC)),
        ("gc-2", 1, datetime(2026, 11, 1, 10, 0, tzinfo=UTC)),
    ]
    con.close()
