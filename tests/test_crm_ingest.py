"""API ingestion: the sandbox seeded from a sample world, pulled into the raw tables the CSV path fills."""

from __future__ import annotations

import json

import duckdb
import pytest

from crm_sandbox.config import SandboxConfig
from crm_sandbox.seed import seed_from_landing
from crm_sandbox.server import start_sandbox
from crm_sandbox.store import SandboxStore
from landing.contract import parse_timestamp
from landing.ingest import ingest_landing
from reverse_etl.crm.cursors import CursorStore
from reverse_etl.crm.hubspot import HubSpotClient
from reverse_etl.crm.ingest import pull_to_raw
from sample_world import generate_world

TOKEN = "ingest-token"
TEXT_COLUMNS = {
    "hubspot_contacts": [
        "email",
        "first_name",
        "last_name",
        "job_title",
        "lifecycle_stage",
        "lead_status",
        "original_source",
        "contact_owner",
        "associated_company_ids",
        "unsubscribed_from_all_email",
    ],
    "hubspot_companies": [
        "company_name",
        "company_domain_name",
        "number_of_employees",
        "company_owner",
        "technologies",
    ],
    "hubspot_deals": [
        "deal_name",
        "deal_stage",
        "pipeline",
        "amount",
        "deal_owner",
        "associated_company_ids",
        "associated_contact_ids",
    ],
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A 150-contact sample world, its CSVs loaded the classic way, and a sandbox seeded from the same CSVs."""
    root = tmp_path_factory.mktemp("crm_world")
    generate_world(root, contacts=150, seed=5)
    csv_db = root / "csv.duckdb"
    with duckdb.connect(str(csv_db)) as con:
        from landing.schema import ensure_raw_schema

        ensure_raw_schema(con)
        ingest_landing(con, root / "landing", sources=["hubspot_contacts", "hubspot_companies", "hubspot_deals"])
    db_path = root / "crm.sqlite"
    store = SandboxStore(db_path, SandboxConfig().unique_properties)
    report = seed_from_landing(store, root / "landing")
    store.close()
    server, app = start_sandbox(SandboxConfig(db_path=db_path, tokens=(TOKEN,), rate_limit=1000, search_rate_limit=100))
    yield {"root": root, "csv_db": csv_db, "server": server, "app": app, "seed": report}
    server.stop()


def _latest(con, table: str, columns: list[str], source_filter: str) -> dict[str, tuple]:
    rows = con.execute(
        f"select record_id, {', '.join(columns)}, last_modified_date from {table} where {source_filter} "
        "qualify row_number() over (partition by record_id order by _loaded_at desc, _source_line desc) = 1"
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_pull_fills_the_same_raw_tables_with_the_same_values(world, tmp_path):
    seed = world["seed"]
    assert seed.records["contacts"] >= 100 and seed.owners > 0 and seed.associations > 0
    cursors = CursorStore(f"sqlite:///{tmp_path / 'operations.sqlite'}")
    with (
        HubSpotClient(world["server"].url, TOKEN, search_rate_limit=100, rate_limit=1000) as client,
        duckdb.connect(str(tmp_path / "api.duckdb")) as api,
        duckdb.connect(str(world["csv_db"])) as csv,
    ):
        inserted = {}
        for object_type in ("companies", "contacts", "deals"):
            report = pull_to_raw(api, client, object_type, cursors, "hubspot@test")
            assert report.records_read == seed.records[object_type] == report.rows_inserted + report.rows_quarantined
            inserted[object_type] = report.rows_inserted
        # API rows pass the landing checks: the record whose create date the file loader quarantined (seeded
        # into the CRM as it was) is quarantined from the API for the same reason, with the record kept.
        file_reasons = csv.execute(
            "select reason from raw.quarantine_rows where source = 'hubspot_contacts' and reason like 'Create Date%'"
        ).fetchall()
        api_quarantine = api.execute("select source, path, reason, raw_text from raw.quarantine_rows").fetchall()
        assert [(r[0], r[1], r[2]) for r in api_quarantine] == [
            ("hubspot_contacts", "api:hubspot/contacts", file_reasons[0][0])
        ]
        quarantined_id = json.loads(api_quarantine[0][3])["record_id"]
        for table, columns in TEXT_COLUMNS.items():
            from_api = _latest(api, f"raw.{table}", columns, "_source_file like 'api:hubspot/%'")
            from_csv = _latest(csv, f"raw.{table}", columns, "true")
            from_csv = {k: v for k, v in from_csv.items() if k and k.isdigit() and k != quarantined_id}
            assert set(from_api) == set(from_csv), table
            for record_id, values in from_csv.items():
                api_values = from_api[record_id]
                # Text columns equal; timestamps equal once parsed (the API gives ISO 8601).
                assert [v or None for v in values[:-1]] == list(api_values[:-1]), (table, record_id)
                assert parse_timestamp(values[-1]) == parse_timestamp(api_values[-1])
        # One load line per stored page, each with loaded = accepted + quarantined.
        loads = api.execute(
            "select path, count(*), sum(rows_loaded), sum(rows_accepted), sum(rows_quarantined), "
            "bool_and(rows_loaded = rows_accepted + rows_quarantined) from raw.load_files group by path order by path"
        ).fetchall()
        pages = {
            path: (count, loaded, accepted, quarantined, ok) for path, count, loaded, accepted, quarantined, ok in loads
        }
        assert pages["api:hubspot/contacts"][1:] == (150, 149, 1, True)
        assert {p: v[2] for p, v in pages.items()} == {f"api:hubspot/{t}": n for t, n in inserted.items()}
        lines = api.execute("select min(_source_line), max(_source_line), count(*) from raw.hubspot_contacts")
        assert lines.fetchall()[0] == (1, inserted["contacts"], inserted["contacts"])


def test_rerun_is_idempotent_and_picks_up_only_changes(world, tmp_path):
    cursors = CursorStore(f"sqlite:///{tmp_path / 'operations.sqlite'}")
    with (
        HubSpotClient(world["server"].url, TOKEN, search_rate_limit=100, rate_limit=1000) as client,
        duckdb.connect(str(tmp_path / "api.duckdb")) as con,
    ):
        first = pull_to_raw(con, client, "contacts", cursors, "hubspot@test")
        first_cursor = cursors.get("hubspot@test", "contacts")
        assert first.rows_inserted + first.rows_quarantined == first.records_read > 0
        again = pull_to_raw(con, client, "contacts", cursors, "hubspot@test")
        assert (again.records_read, again.rows_inserted) == (0, 0)
        some = con.execute(
            "select email from raw.hubspot_contacts where email like '%@%' order by record_id limit 2"
        ).fetchall()
        outcomes = client.upsert("contacts", [{"email": e, "jobtitle": "Chief Tester"} for (e,) in some], "email")
        assert all(o.ok for o in outcomes)
        changed = pull_to_raw(con, client, "contacts", cursors, "hubspot@test")
        assert changed.rows_inserted == 2
        # A crash after the rows were written but before the cursor was saved: re-reading inserts nothing.
        cursors.set("hubspot@test", "contacts", first_cursor)
        replay = pull_to_raw(con, client, "contacts", cursors, "hubspot@test")
        assert (replay.records_read, replay.rows_inserted, replay.rows_already_loaded) == (2, 0, 2)
        titles = con.execute("select count(*) from raw.hubspot_contacts where job_title = 'Chief Tester'")
        assert titles.fetchall()[0][0] == 2


def test_dagster_assets_exist_only_when_configured_and_materialize(world, tmp_path, monkeypatch, warehouse):
    import dagster as dg

    from orchestration.defs.crm.assets import crm_api_asset_key, crm_api_ingestion
    from orchestration.defs.crm.resources import CrmResource

    monkeypatch.delenv("ACTIONHOUSE_CRM_BASE_URL", raising=False)
    assert not list(crm_api_ingestion().assets or [])
    monkeypatch.setenv("ACTIONHOUSE_CRM_BASE_URL", world["server"].url)
    monkeypatch.setenv("ACTIONHOUSE_CRM_TOKEN", TOKEN)
    definitions = crm_api_ingestion()
    assets = list(definitions.assets)
    assert {a.key for a in assets} == {
        crm_api_asset_key(t) for t in ("contacts", "companies", "deals", "tasks", "notes")
    }
    crm = CrmResource(
        base_url=world["server"].url, token=TOKEN, ops_db_url=f"sqlite:///{tmp_path / 'ops.sqlite'}", rate_limit=1000
    )
    for expected_inserted in (True, False):
        result = dg.materialize(assets, resources={"warehouse": warehouse, "crm": crm})
        assert result.success
        events = result.get_asset_materialization_events()
        inserted = {
            e.asset_key.path[-1]: e.event_specific_data.materialization.metadata["rows_inserted"].value for e in events
        }
        assert len(inserted) == 5
        records = [inserted[f"hubspot_{t}"] for t in ("contacts", "companies", "deals")]
        assert all(n > 0 for n in records) if expected_inserted else all(n == 0 for n in records)
        assert inserted["hubspot_tasks"] == inserted["hubspot_notes"] == 0  # the seeded world has none yet


def test_tasks_and_notes_written_by_actionhouse_come_back_as_activities(world, tmp_path):
    """What the sync writes (tasks, notes, score properties) is read back by the next pull, with its action id."""
    from reverse_etl.crm.hubspot import Engagement

    cursors = CursorStore(f"sqlite:///{tmp_path / 'operations.sqlite'}")
    with (
        HubSpotClient(world["server"].url, TOKEN, search_rate_limit=100, rate_limit=1000) as client,
        duckdb.connect(str(tmp_path / "api.duckdb")) as con,
    ):
        contact = client.read_changed("contacts", None, ["email"]).records[0].id
        owner_id, owner_name = next(iter(client.owner_names().items()))
        task = {"hs_task_subject": "Call back", "hs_task_status": "NOT_STARTED", "hs_timestamp": "1780000000000"}
        note = {"hs_note_body": "Why:\n  the score rose", "hs_timestamp": "1780000000000"}
        assert client.write_engagements(
            "tasks", [Engagement("act-1", {**task, "hubspot_owner_id": owner_id}, [("contacts", contact)])]
        )[0].ok
        assert client.write_engagements("notes", [Engagement("act-2", note, [("contacts", contact)])])[0].ok
        client.update("contacts", [{"id": contact, "actionhouse_tier": "1"}])
        for object_type in ("tasks", "notes", "contacts"):
            pull_to_raw(con, client, object_type, cursors, "hubspot@test")
        rows = con.execute(
            "select activity_type, subject, task_status, activity_assigned_to, associated_contact_ids, activity_date,"
            " extra_columns->>'actionhouse_id' from raw.hubspot_activities order by activity_type desc"
        ).fetchall()
        assert rows == [
            ("TASK", "Call back", "NOT_STARTED", owner_name, contact, "2026-05-28T20:26:40.000Z", "act-1"),
            ("NOTE", "Why: the score rose", None, None, contact, "2026-05-28T20:26:40.000Z", "act-2"),
        ]
        ids = [r[0] for r in con.execute("select record_id from raw.hubspot_activities").fetchall()]
        assert len(set(ids)) == 2  # tasks and notes share one id space, as engagements do in HubSpot
        tier = con.execute(
            "select extra_columns->>'actionhouse_tier' from raw.hubspot_contacts where record_id = ?", [contact]
        ).fetchall()
        assert tier == [("1",)]
        # The owner completes the task in the CRM: the next pull adds its new version, nothing twice.
        task_id = con.execute("select record_id from raw.hubspot_activities where activity_type = 'TASK'").fetchone()[0]
        client.update("tasks", [{"id": task_id, "hs_task_status": "COMPLETED"}])
        again = pull_to_raw(con, client, "tasks", cursors, "hubspot@test")
        assert (again.records_read, again.rows_inserted) == (1, 1)
        assert pull_to_raw(con, client, "tasks", cursors, "hubspot@test").records_read == 0
