"""The sync in Dagster: the action and field sync assets against the sandbox CRM, the approvals sensor, and the
sync log published to the warehouse with each write's lineage."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from actions.policy import load_policy
from crm_sandbox.config import SandboxConfig
from crm_sandbox.server import start_sandbox
from crm_sandbox.store import SandboxStore
from evaluation.sync_world import APPROVER, mixed_proposals, proposal, queue_approved, seed_sandbox
from ops_store import open_store
from orchestration.defs.crm.resources import CrmResource
from orchestration.defs.sync.assets import approved_actions, hubspot_action_sync, hubspot_field_sync, sync_log
from orchestration.resources import OpsStoreResource, WarehouseResource
from reverse_etl.sync.publish import WAREHOUSE_TABLE, publish_sync_log

TOKEN = "dagster-sync-token"


@pytest.fixture
def setup(tmp_path):
    config = SandboxConfig(db_path=tmp_path / "crm.sqlite", tokens=(TOKEN,), rate_limit=2000, search_rate_limit=100)
    store = SandboxStore(config.db_path, config.unique_properties)
    ids = seed_sandbox(store, 40)
    store.close()
    server, _ = start_sandbox(config)
    ops_url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    warehouse_path = tmp_path / "warehouse.duckdb"
    resources = {
        "crm": CrmResource(base_url=server.url, token=TOKEN, ops_db_url=ops_url, rate_limit=1000),
        "ops_store": OpsStoreResource(url=ops_url),
        "warehouse": WarehouseResource(database_path=str(warehouse_path), landing_dir=str(tmp_path / "landing")),
    }
    yield {"server": server, "ids": ids, "ops_url": ops_url, "warehouse": warehouse_path, "resources": resources}
    server.stop()


def _metadata(result, key: str) -> dict:
    event = next(e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == key)
    return {k: v.value for k, v in event.event_specific_data.materialization.metadata.items()}


def test_action_sync_asset_sends_the_approved_and_the_sensor_waits_for_new_approvals(setup):
    engine = open_store(setup["ops_url"])
    policy = load_policy()
    sensor_resources = {"ops_store": setup["resources"]["ops_store"]}
    with dg.build_sensor_context(resources=sensor_resources) as context:
        assert isinstance(approved_actions(context), dg.SkipReason)  # nothing approved yet
    ids = setup["ids"]
    merge = proposal("merge_contacts", ids[30], 30, {"primary_record_id": ids[30], "merged_record_id": ids[31]})
    action_ids = queue_approved(engine, policy, [*mixed_proposals(ids[:20]), merge])
    with dg.build_sensor_context(resources=sensor_resources) as context:
        request = approved_actions(context)
        assert isinstance(request, dg.RunRequest)
        cursor = context.cursor
    with dg.build_sensor_context(resources=sensor_resources, cursor=cursor) as context:
        assert isinstance(approved_actions(context), dg.SkipReason)  # the same approvals: no second run

    result = dg.materialize([hubspot_action_sync], resources=setup["resources"])
    assert result.success
    metadata = _metadata(result, "hubspot_action_sync")
    assert metadata["actions_sent"] == len(action_ids) == 21
    assert metadata["dead_lettered"] == metadata["blocked_last_mile"] == 0
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("sent_only_approved", True)]
    with dg.build_sensor_context(resources=sensor_resources) as context:
        assert isinstance(approved_actions(context), dg.SkipReason)  # all handed to the sync

    # The sync log reaches the warehouse with who approved each write, on what evidence and policy.
    result = dg.materialize([sync_log], resources=setup["resources"])
    assert result.success and _metadata(result, "sync_log")["rows_added"] == 21
    with duckdb.connect(str(setup["warehouse"])) as con:
        rows = con.execute(
            f"select count(*), count(distinct action_id), min(approved_by), max(approved_by), "
            f"count(*) filter (where json_array_length(evidence) = 1 and policy_version is not null) "
            f"from {WAREHOUSE_TABLE} where status = 'sent'"
        ).fetchall()
        assert rows[0][:2] == (21, 21) and rows[0][4] == 21
        # Auto actions were approved by the policy, the merge by a person.
        assert {rows[0][2], rows[0][3]} == {APPROVER, "policy"}
        assert publish_sync_log(engine, con) == 0  # nothing new: nothing appended twice
    engine.dispose()


def test_field_sync_asset_sends_only_changed_scores(setup):
    ids = setup["ids"][:30]
    with duckdb.connect(str(setup["warehouse"])) as con:
        con.execute("create schema ml; create schema marts")
        con.execute(
            "create table marts.contact_crosswalk as select 'g' || r as golden_contact_id, r as source_record_id, "
            "true as is_anchor_record from unnest(?::varchar[]) as t(r)",
            [ids],
        )
        con.execute(
            "create table ml.lead_scores as select 'g' || r as contact_id, 0.5 as fit_score, 0.25 as intent_score, "
            "0.4 as combined_score, 2 as tier, ['Title: VP'] as reasons, 'lead-v1' as model_version "
            "from unnest(?::varchar[]) as t(r)",
            [ids],
        )
    first = dg.materialize([hubspot_field_sync], resources=setup["resources"])
    assert first.success
    assert (
        _metadata(first, "hubspot_field_sync")["fields_sent"],
        _metadata(first, "hubspot_field_sync")["fields_unchanged"],
    ) == (30, 0)
    with duckdb.connect(str(setup["warehouse"])) as con:
        con.execute("update ml.lead_scores set tier = 1 where contact_id in ('g' || ?, 'g' || ?)", ids[:2])
    second = dg.materialize([hubspot_field_sync], resources=setup["resources"])
    metadata = _metadata(second, "hubspot_field_sync")
    assert (metadata["fields_sent"], metadata["fields_unchanged"]) == (2, 28)
    with duckdb.connect(str(setup["warehouse"])) as con:
        publish_sync_log(open_store(setup["ops_url"]), con)
        logged = con.execute(
            f"select count(*), min(model_version) from {WAREHOUSE_TABLE} where sync = 'field' and status = 'sent'"
        ).fetchall()
    assert logged == [(32, "lead-v1")]
