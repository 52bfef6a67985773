"""Freshness of the raw tables, judged in the refresh's own process with the thresholds declared in dbt."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from landing.freshness import check_source_freshness

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HOURLY = {"warn_after": {"count": 2, "period": "hour"}, "error_after": {"count": 6, "period": "hour"}, "filter": None}


def _source(table: str, freshness: dict | None = HOURLY, loaded_at_field: str | None = "_loaded_at") -> dict:
    return {
        "relation_name": f'"memory"."raw"."{table}"',
        "loaded_at_field": loaded_at_field,
        "freshness": freshness,
    }


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema raw")
    # Naive UTC load times, as the loader writes them.
    for table, hours_ago in {"fresh": 1, "late": 3, "stale": 7}.items():
        con.execute(f"create table raw.{table} (_loaded_at timestamp)")
        con.execute(f"insert into raw.{table} values (?)", [(NOW - timedelta(hours=hours_ago)).replace(tzinfo=None)])
    con.execute("create table raw.empty (_loaded_at timestamp)")
    return con


def test_statuses_follow_the_dbt_thresholds(con):
    manifest = {
        "sources": {
            "source.actionhouse.s.fresh": _source("fresh"),
            "source.actionhouse.s.late": _source("late"),
            "source.actionhouse.s.stale": _source("stale"),
            "source.actionhouse.s.empty": _source("empty"),
            "source.actionhouse.s.missing": _source("not_loaded_yet"),
            "source.actionhouse.s.unchecked": _source("fresh", freshness=None),
            "source.actionhouse.s.no_field": _source("fresh", loaded_at_field=None),
        }
    }
    results = {r.source: r for r in check_source_freshness(manifest, con, now=NOW)}
    assert {name: r.status for name, r in results.items()} == {
        "s.empty": "error",
        "s.fresh": "pass",
        "s.late": "warn",
        "s.missing": "runtime error",
        "s.stale": "error",
    }
    assert results["s.late"].age_seconds == pytest.approx(3 * 3600)
    assert results["s.empty"].age_seconds is None
    assert "not_loaded_yet" in results["s.missing"].message


def test_a_filter_and_a_daily_threshold_apply(con):
    daily = {
        "warn_after": {"count": 1, "period": "day"},
        "error_after": None,
        "filter": "_loaded_at < '2026-03-02 08:00'",
    }
    manifest = {"sources": {"source.actionhouse.s.fresh": _source("fresh", freshness=daily)}}
    # The filter hides the only row (loaded at 11:00): as old as can be, but only a warning is declared.
    [result] = check_source_freshness(manifest, con, now=NOW)
    assert result.status == "warn"


def test_the_project_manifest_declares_every_raw_table(dbt_manifest):
    """Every loaded raw table of the real project is checked; only the decision log, the lead tiers and the reply
    classes, copied in the same refresh, declare no threshold (docs/outcomes.md)."""
    manifest = json.loads(dbt_manifest.read_text())
    con = duckdb.connect()
    results = check_source_freshness(manifest, con, now=NOW)
    unchecked = {name.split(".", 2)[-1] for name in manifest["sources"]} - {r.source for r in results}
    assert unchecked == {"actionhouse.decision_log", "actionhouse.lead_tiers", "actionhouse.reply_classes"}
    assert len(results) > 10
    assert {r.status for r in results} == {"runtime error"}  # nothing loaded into this empty database
