"""End to end on the embedded default, in process: `actionhouse demo` at a small size, then the next hour."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from evaluation.fault_scenarios_pipeline import contact_values_found, dbt_target_dir, folder_mb, world_contact_values
from landing.contract import SOURCES
from orchestration.cli import main


@pytest.fixture
def demo_env(tmp_path, monkeypatch, dbt_manifest):
    """Point every Actionhouse location into tmp_path (monkeypatch restores what the CLI sets)."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("ACTIONHOUSE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ACTIONHOUSE_WAREHOUSE", str(data_dir / "warehouse.duckdb"))
    monkeypatch.setenv("ACTIONHOUSE_LANDING_DIR", str(data_dir / "landing"))
    monkeypatch.setenv("DAGSTER_HOME", str(data_dir / "dagster_home"))
    # No CRM configured: the demo serves its own sandbox CRM.
    monkeypatch.delenv("ACTIONHOUSE_CRM_BASE_URL", raising=False)
    monkeypatch.delenv("ACTIONHOUSE_CRM_TOKEN", raising=False)
    return data_dir


def _query(data_dir, sql):
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _check_console(data_dir, action_id: str) -> None:
    """Sign in as the demo user and open every page on the real publication (the browser tests use a small
    hand-made one; this checks the console against what a refresh really builds)."""
    import re

    from fastapi.testclient import TestClient

    from console.app import create_app
    from console.settings import ConsoleSettings
    from orchestration.console_cli import DEMO_PASSWORD_DEFAULT, DEMO_USER

    publication = data_dir / "console" / "publication.duckdb"
    con = duckdb.connect(str(publication), read_only=True)
    try:
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
        assert con.execute("select count(*) from scores").fetchone()[0] > 300
        lead = con.execute("select contact_id from scores order by combined_score desc limit 1").fetchone()[0]
    finally:
        con.close()
    assert {"scores", "contacts", "crosswalk", "golden_fields", "deals", "drift", "models", "quarantine_rows"} <= tables
    assert {"workflow_lift", "workflow_outcomes_weekly"} <= tables  # the outcome marts (issue 15)
    settings = ConsoleSettings.from_environment()
    app = create_app(settings)
    client = TestClient(app, base_url="https://127.0.0.1")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    signed_in = client.post(
        "/login",
        data={"csrf_token": token, "username": DEMO_USER, "password": DEMO_PASSWORD_DEFAULT, "next": "/"},
        headers={"Origin": "https://127.0.0.1"},
    )
    assert signed_in.status_code == 200 and "Overview" in signed_in.text
    for path, expected in (
        ("/scores", "Top reasons across Tier 1"),
        (f"/leads/{lead}", "Source records (crosswalk)"),
        ("/queue", "queue-table"),
        (f"/queue/{action_id}", "Policy verdicts"),
        ("/quality", "Quarantined rows"),
        ("/safety", "Audit log"),
        ("/safety", "Does it work? Lift vs holdout"),
        ("/pipeline", "Open pipeline by stage"),
    ):
        page = client.get(path)
        assert page.status_code == 200 and expected in page.text, path
    assert "vl-spec" in client.get("/scores").text
    app.state.reader.close()


def _dbt_run_folders() -> set[str]:
    target = dbt_target_dir()
    assert target.is_dir()
    return {p.name for p in target.iterdir() if p.is_dir()}


@contextmanager
def _crm_refusing_the_token(data_dir: Path, monkeypatch) -> Iterator[str]:
    """The demo's sandbox CRM served again, with Actionhouse configured to use a token it does not know."""
    from crm_sandbox.config import config_from_env
    from crm_sandbox.server import start_sandbox

    config = config_from_env()
    server, _ = start_sandbox(config)
    monkeypatch.setenv("ACTIONHOUSE_CRM_BASE_URL", server.url)
    monkeypatch.setenv("ACTIONHOUSE_CRM_TOKEN", "not-the-token")
    try:
        yield server.url
    finally:
        monkeypatch.delenv("ACTIONHOUSE_CRM_BASE_URL")
        monkeypatch.delenv("ACTIONHOUSE_CRM_TOKEN")
        server.stop()


def test_demo_then_next_hour(demo_env, capsys, monkeypatch):
    data_dir = demo_env
    folders_before = _dbt_run_folders()
    assert main(["demo", "--contacts", "400", "--seed", "3"]) == 0
    # dbt builds into one fixed target folder, not a new one per run (18 MB an hour adds up).
    assert _dbt_run_folders() - folders_before <= {"build"}
    target_mb_after_demo = folder_mb(dbt_target_dir())
    assert target_mb_after_demo > 1
    out = capsys.readouterr().out
    assert "Actionhouse refresh summary" in out
    assert "succeeded" in out
    assert "scored leads (golden contacts):" in out and "replies classified:" in out
    assert "0 failed" in out
    assert "Sandbox CRM (HubSpot API) serving on http://127.0.0.1:" in out
    # dbt's build ran in the dbt process preloaded while the refresh started (orchestration.dbt_preload).
    assert "dbt started in the dbt process preloaded at the refresh's start" in out
    assert "actions: " in out and "proposed (auto " in out and "actions by state:" in out
    # The console's publication was written while the planner planned, and swapped in by its own step.
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        published = instance.get_latest_materialization_event(dg.AssetKey(["console", "publication"]))
    assert published.asset_materialization.metadata["prepared_while_planning"].value is True
    api_rows = _query(data_dir, "select count(*) from raw.hubspot_contacts where _source_file like 'api:%'")[0][0]
    assert api_rows > 300, "contacts were read through the sandbox CRM's API"
    # The sync: auto actions and scores went to the CRM, the demo user's approvals followed, and the second refresh
    # read them back; the warehouse's sync log leads from each write to its approver.
    assert "Demo Approver approved" in out and "synced to the CRM:" in out and "read back from the CRM:" in out
    approvers = dict(
        _query(
            data_dir,
            "select approved_by, count(*) from reverse_etl.sync_log "
            "where sync = 'action' and status = 'sent' group by 1",
        )
    )
    assert approvers.get("policy", 0) > 0 and approvers.get("Demo Approver", 0) > 0
    scored_in_crm = _query(
        data_dir,
        "select count(distinct record_id) from raw.hubspot_contacts "
        "where _source_file = 'api:hubspot/contacts' and extra_columns->>'actionhouse_tier' is not null",
    )[0][0]
    assert scored_in_crm > 300

    files = _query(data_dir, "select source, path, rows_loaded, rows_accepted, rows_quarantined from raw.load_files")
    assert {row[0] for row in files} == set(SOURCES)
    for source, path, loaded, accepted, quarantined in files:
        assert loaded == accepted + quarantined, f"{source}/{path}"

    # Every accepted row (from files and API reads) is in its raw table; every quarantined row has a reason.
    for name, spec in SOURCES.items():
        accepted = sum(row[3] for row in files if row[0] == name)
        assert _query(data_dir, f"select count(*) from {spec.table}")[0][0] == accepted
    quarantined = sum(row[4] for row in files)
    assert _query(data_dir, "select count(*) from raw.quarantine_rows where reason <> ''")[0][0] == quarantined

    # Staging holds one row per HubSpot contact, normalized.
    distinct_ids = _query(data_dir, "select count(distinct record_id) from raw.hubspot_contacts")[0][0]
    staged = _query(data_dir, "select count(*), count(phone), count(country_code) from staging.stg_hubspot__contacts")
    assert staged[0][0] == distinct_ids > 300
    assert staged[0][1] > 0 and staged[0][2] > 0

    # Gate results were stored, and all gates passed on the sample world.
    gates = _query(data_dir, "select stage, bool_and(success) from quality.expectation_results group by stage")
    # (Later stages — golden records, scores — add their own gates; every stage present must pass.)
    assert {"raw", "staging"} <= set(dict(gates)) and all(dict(gates).values()), gates

    # The decision queue: the planner ran in the refresh; people decide from the command line.
    from actions.policy import load_policy
    from actions.queue import DecisionQueue
    from ops_store import open_store

    engine = open_store(f"sqlite:///{data_dir / 'operations.sqlite'}")
    queue = DecisionQueue(engine, load_policy())
    counts = queue.counts()
    assert sum(c["actions"] for c in counts) > 0
    assert {"suppression", "lead_routing", "enrichment"} <= {c["workflow"] for c in counts}
    # An action the policy lets the demo approver decide (drafts, for one, are routed to their owner).
    waiting = next(
        a
        for a in queue.list(states=["proposed"], limit=None, risk_class="approve")
        if queue.policy.may_decide("Demo Approver", a.action_type, a.owner)
    )
    capsys.readouterr()
    assert main(["queue", "show", waiting.action_id[:10]]) == 0
    shown = capsys.readouterr().out
    assert "Why:" in shown and "Evidence:" in shown and "Policy:" in shown and "KPI:" in shown
    assert main(["queue", "approve", waiting.action_id[:10], "--as", "Demo Approver", "--note", "checked"]) == 0
    decided = queue.get(waiting.action_id)
    assert decided.state.value == "approved" and decided.decided_by == "Demo Approver"
    assert main(["queue", "approve", waiting.action_id[:10], "--as", "Demo Approver"]) == 1  # approved already
    slots_before = {a.slot_key for a in queue.list(limit=None)}

    # The console: the refresh published its tables, the demo made its local user, every page shows the demo's data.
    assert "sign in as 'Demo Approver'" in out
    _check_console(data_dir, waiting.action_id)

    golden_before = dict(
        _query(data_dir, "select record_id, golden_contact_id from intermediate.int_entities__contact_clusters")
    )

    # The next hour plus a user's own HubSpot export (one bad row): only the new files load, once each.
    before = {row[1] for row in files}
    assert main(["generate", "--hours", "1"]) == 0
    export = data_dir.parent / "hubspot-crm-exports-all-contacts-2026-11-22.csv"
    export.write_text(
        "Record ID,First Name,Last Name,Email,Phone Number,Country/Region,Create Date,Favourite Colour\n"
        "990001,Ana,Lopez,Ana.Lopez@Example.io,(415) 555-0100,United States,2026-11-20 10:00,teal\n"
        "not-an-id,Bo,Chen,bo@example.io,,Germany,2026-11-20 10:05,red\n"
    )
    # ... refreshed while the CRM refuses the token (row 4 of the hardening issue): the files still reach
    # published scores; each pull says what to fix; the sync, which cannot send, fails with the same words.
    published_before = _query(data_dir, "select distinct run_id from ml.lead_scores")
    capsys.readouterr()
    with _crm_refusing_the_token(data_dir, monkeypatch) as url:
        assert main(["ingest", str(export), "--source", "hubspot_contacts"]) == 1
    out = capsys.readouterr().out
    published_after = _query(data_dir, "select distinct run_id from ml.lead_scores")
    assert len(published_after) == 1 and published_after != published_before, "this refresh's scores published"
    assert f"crm_pull_succeeded: the CRM at {url} refused the token (HTTP 401" in out
    assert "check ACTIONHOUSE_CRM_TOKEN" in out and "checks: " in out
    after = _query(data_dir, "select path, count(*) from raw.load_files where path not like 'api:%' group by path")
    assert all(count == 1 for _, count in after)
    new_paths = {path for path, _ in after} - before
    assert any(path.startswith("hubspot_contacts/hubspot-crm-exports") for path in new_paths)
    assert len(new_paths) > 1, "the next hour added files too"
    # Another hourly refresh adds next to nothing to dbt's folder (its log file was ~13 MB a run at debug level).
    assert folder_mb(dbt_target_dir()) - target_mb_after_demo < 1.0
    # No contact values in the Dagster home (run and event storage, compute logs): counts, schemas and masked
    # samples only, whatever the refreshes, gates and syncs wrote.
    emails, phones = world_contact_values(data_dir / "warehouse.duckdb")
    assert len(emails) > 300 and len(phones) > 300
    found, files = contact_values_found(data_dir / "dagster_home", emails | phones)
    assert files > 5 and found == set(), sorted(found)[:5]

    ana = _query(
        data_dir,
        "select email, phone, country_code from staging.stg_hubspot__contacts where contact_id = 990001",
    )
    assert ana == [("ana.lopez@example.io", "+14155550100", "US")]
    reasons = _query(
        data_dir, "select reason from raw.quarantine_rows where path like 'hubspot_contacts/hubspot-crm-exports%'"
    )
    assert reasons == [("Record ID 'not-an-id' is not a whole number",)]

    # Entity resolution was incremental: only pairs of the records this refresh changed were scored again,
    # and records already resolved kept their golden ids unless a changed record joined them.
    changed = {
        row[0]
        for row in _query(
            data_dir,
            "select record_id from intermediate.int_entities__contact_record_changes "
            "where changed_at = (select max(changed_at) from intermediate.int_entities__contact_record_changes)",
        )
    }
    assert 990001 in changed and len(changed) < len(golden_before) / 10
    rescored = _query(
        data_dir,
        "select left_id, right_id from intermediate.int_entities__contact_pairs "
        "where scored_through = (select max(changed_at) from intermediate.int_entities__contact_record_changes)",
    )
    assert all(left in changed or right in changed for left, right in rescored)
    total_pairs = _query(data_dir, "select count(*) from intermediate.int_entities__contact_pairs")[0][0]
    assert len(rescored) < total_pairs
    golden_after = dict(
        _query(data_dir, "select record_id, golden_contact_id from intermediate.int_entities__contact_clusters")
    )
    assert golden_after[990001] == "gc-990001"
    # A record the refresh did not touch keeps its golden id unless a changed record joined its cluster
    # (the demo's approved merge reached the CRM, so the read-back survivor now carries the other's email).
    moved = {r for r, golden in golden_before.items() if golden_after.get(r) != golden}
    clusters_with_changes = {golden_after[r] for r in changed if r in golden_after}
    assert all(golden_after.get(r) in clusters_with_changes for r in moved - changed), (
        "untouched records keep their golden ids"
    )

    # The event streams are staged incrementally: after the next hour each still holds one row per event.
    for staged, raw, key in (
        ("stg_email__events", "raw.email_events", "event_id"),
        ("stg_segment__web_events", "raw.web_events", "message_id"),
        ("stg_segment__product_events", "raw.product_events", "message_id"),
    ):
        rows, distinct = _query(data_dir, f"select count(*), count(distinct {key}) from staging.{staged}")[0]
        assert rows == distinct == _query(data_dir, f"select count(distinct {key}) from {raw}")[0][0], staged

    # The next hour's planning added no second action for a decision slot already in the queue.
    after = queue.list(limit=None)
    live = [a for a in after if a.state.value not in ("expired", "withdrawn")]
    assert len({a.slot_key for a in live}) == len(live)
    assert slots_before <= {a.slot_key for a in after}
    engine.dispose()
