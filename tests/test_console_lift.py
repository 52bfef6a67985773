"""The workflows page's "Does it work? Lift vs holdout" section: the verdict in words (a pure helper), and the page
over hand-made `marts.fct_workflow_lift` rows, a publication made before the outcome marts existed, and a table
with no rows."""

from __future__ import annotations

import json
import re
from datetime import date

import duckdb
import pytest
from console_world import PASSWORD, build_warehouse, settings_for
from fastapi.testclient import TestClient

from console import lift
from console.app import create_app
from console.auth import UserStore
from console.publish import publish
from ops_store import open_store

BASE = "https://127.0.0.1"

SIGNIFICANT = {
    "workflow": "sla",
    "outcome": "meeting_booked",
    "lift": 0.05,
    "lift_ci_low": 0.017013,
    "lift_ci_high": 0.076952,
    "is_significant": True,
    "sample_size_note": None,
}


# ---- the words ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("row", "kind", "words"),
    [
        (SIGNIFICANT, "raises", "raises bookings"),
        (
            {**SIGNIFICANT, "outcome": "renewed", "lift": -0.04, "lift_ci_low": -0.07, "lift_ci_high": -0.01},
            "lowers",
            "lowers renewals",
        ),
        ({**SIGNIFICANT, "lift_ci_low": -0.01, "is_significant": False}, "no effect", "no measurable effect"),
        # A note wins over a significant interval: the figure is not to be trusted yet.
        (
            {**SIGNIFICANT, "sample_size_note": "wide interval: 0.281 (over 0.1)"},
            "not measured",
            "not measured yet: wide interval: 0.281 (over 0.1)",
        ),
        (
            {**SIGNIFICANT, "lift": None, "lift_ci_low": None, "lift_ci_high": None, "is_significant": False},
            "not measured",
            "not measured yet: no held-out or treated actions",
        ),
    ],
)
def test_verdict_in_plain_words(row, kind, words):
    assert lift.verdict(row) == (kind, words)


def test_lift_in_points_with_its_interval():
    assert lift.lift_text(SIGNIFICANT) == "+5.0 pts (95% CI +1.7 to +7.7)"
    assert lift.lift_text({"lift": -0.000_04, "lift_ci_low": -0.029979, "lift_ci_high": 0.028225}) == (
        "+0.0 pts (95% CI -3.0 to +2.8)"
    )
    assert lift.lift_text({"lift": None}) == "—"
    counts = {"treated_n": 10, "treated_outcomes": 2, "held_out_n": 5, "held_out_outcomes": 0}
    [row] = lift.chart_rows(lift.lift_rows([{**SIGNIFICANT, **counts}]))
    assert (row["lift_points"], row["ci_low_points"], row["ci_high_points"]) == (5.0, 1.7, 7.7)
    assert (row["treated"], row["held_out"], row["verdict_kind"]) == ("2/10", "0/5", "raises")
    assert lift.chart_rows(lift.lift_rows([{**SIGNIFICANT, "lift": None}])) == []


def test_weekly_done_metrics_sum_segments_and_keep_the_latest_weeks():
    def row(metric, workflow, segment, week, numerator, denominator, hours=None):
        return {
            "metric": metric,
            "workflow": workflow,
            "segment": segment,
            "period_start": week,
            "numerator": numerator,
            "denominator": denominator,
            "median_hours": hours,
        }

    w1, w2, w3 = date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30)
    table = lift.weekly_table(
        [
            row("sequence_reply_rate", "sequences", "seq-a", w3, 2, 10),
            row("sequence_reply_rate", "sequences", "seq-b", w3, 1, 10),
            row("meetings_per_1000_leads", "lead_routing", "all", w3, 1, 24),
            row("first_touch_within_sla", "sla", "all", w2, 18, 24, 3.5),
            row("first_touch_within_sla", "sla", "all", w1, 1, 1, 1.0),
            # Segmented with the mart's rollup (segment all): the rollup is shown, the segments not added to it.
            row("sequence_positive_reply_rate", "sequences", "seq-a", w3, 1, 10),
            row("sequence_positive_reply_rate", "sequences", "seq-b", w3, 0, 10),
            row("sequence_positive_reply_rate", "sequences", "all", w3, 1, 20),
            row("sequence_positive_reply_to_meeting", "sequences", "seq-a", w3, 1, 1, 30.0),
            row("sequence_positive_reply_to_meeting", "sequences", "all", w3, 1, 1, 30.0),
        ],
        weeks=2,
    )
    assert table["weeks"] == [w2, w3]
    assert table["rows"] == [
        {"workflow": "lead_routing", "metric": "meetings_per_1000_leads", "cells": ["—", "41.7 per 1,000 (1/24)"]},
        {"workflow": "sequences", "metric": "sequence_positive_reply_rate", "cells": ["—", "5.0% (1/20)"]},
        {
            "workflow": "sequences",
            "metric": "sequence_positive_reply_to_meeting",
            "cells": ["—", "100.0% (1/1), median 30.0 h"],
        },
        {"workflow": "sequences", "metric": "sequence_reply_rate", "cells": ["—", "15.0% (3/20)"]},
        {"workflow": "sla", "metric": "first_touch_within_sla", "cells": ["75.0% (18/24), median 3.5 h", "—"]},
    ]


# ---- the page -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("console_lift")
    ops_url = f"sqlite:///{root / 'operations.sqlite'}"
    engine = open_store(ops_url)
    UserStore(engine).add("Vic Viewer", "viewer", PASSWORD)
    engine.dispose()
    return root, ops_url


@pytest.fixture(scope="module")
def client(world):
    root, ops_url = world
    from console_world import ConsoleWorld

    console_world = ConsoleWorld(
        warehouse=root / "warehouse.duckdb",
        publication=root / "console" / "publication.duckdb",
        ops_url=ops_url,
        data_dir=root,
    )
    app = create_app(settings_for(console_world))
    client = TestClient(app, base_url=BASE)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    signed_in = client.post(
        "/login",
        data={"csrf_token": token, "username": "Vic Viewer", "password": PASSWORD},
        headers={"Origin": BASE},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    yield client
    app.state.reader.close()


def _publish(world, tmp_path, sql: str | None = None) -> None:
    """Publish a fresh hand-made warehouse, changed by `sql`, as the console's publication."""
    root, _ = world
    warehouse = tmp_path / "warehouse.duckdb"
    build_warehouse(warehouse)
    con = duckdb.connect(str(warehouse))
    try:
        if sql:
            con.execute(sql)
        publish(con, root / "console" / "publication.duckdb", run_id="lift-test")
    finally:
        con.close()


def _lift_table(html: str) -> dict[str, list[str]]:
    """Each row of the lift table: workflow -> its cells' text."""
    table = re.search(r'<table id="workflow-lift">(.*?)</table>', html, re.S).group(1)
    out = {}
    for row in re.findall(r"<tr data-workflow.*?</tr>", table, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        out[cells[0]] = cells
    return out


def test_page_shows_each_workflows_lift_with_its_interval_and_verdict(client, world, tmp_path):
    _publish(world, tmp_path)
    page = client.get("/safety")
    assert page.status_code == 200 and "Does it work? Lift vs holdout" in page.text
    rows = _lift_table(page.text)
    assert rows["sla"] == [
        "sla",
        "meeting_booked (14 d)",
        "4,000",
        "600",
        "15.0%",
        "450",
        "45",
        "10.0%",
        "+5.0 pts (95% CI +1.7 to +7.7)",
        "raises bookings",
        "30",
    ]
    assert rows["lead_routing"][8:10] == ["+0.2 pts (95% CI -3.0 to +2.8)", "no measurable effect"]
    assert rows["at_risk"][1] == "renewed (90 d)"
    assert rows["at_risk"][9] == "not measured yet: too few outcomes: 0 in the smaller group (fewer than 10)"
    assert 'id="lift-absent"' not in page.text
    # The chart: one point per workflow with an interval, and the zero line (its own data).
    spec = re.search(r'data-target="chart-lift">(.*?)</script>', page.text, re.S).group(1)
    assert [r["label"] for r in json.loads(spec)["datasets"]["table"]] == [
        "at_risk · renewed",
        "lead_routing · meeting_booked",
        "sla · meeting_booked",
    ]
    # The weekly done metrics: the week rows only, sequences' segments summed.
    weekly = re.search(r'<table id="weekly-outcomes">(.*?)</table>', page.text, re.S).group(1)
    assert "week of 2026-11-23" in weekly and "week of 2026-11-30" in weekly
    assert "90.0% (9/10), median 2.0 h" in weekly and "15.0% (3/20)" in weekly and "(1/2)" not in weekly


def test_a_publication_without_the_lift_mart_says_lift_is_not_measured_yet(client, world, tmp_path):
    _publish(world, tmp_path, "drop table marts.fct_workflow_lift; drop table marts.fct_workflow_outcomes")
    page = client.get("/safety")
    assert page.status_code == 200
    absent = re.search(r'<p id="lift-absent"[^>]*>(.*?)</p>', page.text, re.S).group(1)
    assert absent.startswith("Lift is not measured yet: the latest publication has no lift table")
    assert 'id="workflow-lift"' not in page.text and 'id="chart-lift"' not in page.text
    assert "no weekly outcome table" in page.text
    assert "Audit log" in page.text  # the rest of the page is unchanged


def test_an_empty_lift_mart_says_no_workflow_has_been_compared(client, world, tmp_path):
    _publish(world, tmp_path, "delete from marts.fct_workflow_lift; delete from marts.fct_workflow_outcomes")
    page = client.get("/safety")
    absent = re.search(r'<p id="lift-absent"[^>]*>(.*?)</p>', page.text, re.S).group(1)
    assert absent == lift.NO_ROWS
    assert "no outcome has been counted for any week" in page.text
