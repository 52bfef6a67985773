"""The sync engine with Salesforce as the CRM: tasks and notes as Task upserts, owners and opt-outs as Contact
updates, sequence enrollments as CampaignMembers (once, even when resent), score fields, and merges refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from actions.policy import load_policy
from actions.queue import DecisionQueue
from actions.states import State
from crm_sandbox.salesforce_app import SalesforceTestConfig, create_salesforce_app
from crm_sandbox.server import BackgroundServer
from evaluation.sync_world import proposal, queue_approved
from ops_store import open_store
from ops_store.schema import sync_outbox
from reverse_etl.crm.salesforce import SalesforceClient
from reverse_etl.sync import SyncEngine
from reverse_etl.sync.fields import CONTACT_FIELDS
from reverse_etl.sync.requests import CrmRequest
from reverse_etl.sync.writers import SALESFORCE_MERGE_REFUSAL, SalesforceWriter

TOKEN = "sf-sync-token"
POLICY = load_policy()


@pytest.fixture
def org(tmp_path):
    config = SalesforceTestConfig(
        token=TOKEN,
        users=(("Alice Carter", "alice@actionhouse.io"), ("Marta Schulz", "marta@actionhouse.io")),
        seed={
            "Contact": [{"LastName": f"P{i}", "Email": f"person{i}@acme{i % 50}.com"} for i in range(12)],
            "Campaign": [{"Name": "Q1 nurture"}],
        },
    )
    app = create_salesforce_app(config)
    with BackgroundServer(app) as server:
        records = app.state.records
        server.records = records
        server.contacts = sorted(records["Contact"])
        server.campaign = next(iter(records["Campaign"]))
        server.user = {r["Name"]: r["Id"] for r in records["User"].values()}
        engine = open_store(f"sqlite:///{tmp_path / 'ops.sqlite'}")
        server.ops = engine
        yield server
        engine.dispose()


def engine_for(org) -> tuple[SyncEngine, SalesforceClient]:
    client = SalesforceClient(org.url, TOKEN, backoff_base_s=0.01, backoff_cap_s=0.02, seed=1)
    return SyncEngine(org.ops, SalesforceWriter(client, "salesforce@test"), POLICY), client


def test_actions_reach_salesforce_once_and_merges_are_refused(org):
    c = org.contacts
    proposals = [
        proposal("create_task", c[0], 0, {"subject": "Call back", "due_at": "2026-12-10T10:00:00Z"}),
        proposal("add_note", c[1], 1, {"body": "Usage doubled this month"}),
        proposal("assign_owner", c[2], 2, {"new_owner": "Marta Schulz"}),
        proposal("crm_unsubscribe", c[3], 3, {"subscription": "all_email"}),
        proposal("set_follow_up_date", c[4], 4, {"follow_up_date": "2027-01-15"}),
        proposal("enroll_sequence", c[5], 5, {"sequence_id": org.campaign, "sender": "Alice Carter"}),
        proposal("merge_contacts", c[6], 6, {"primary_record_id": c[6], "merged_record_id": c[7]}),
    ]
    ids = queue_approved(org.ops, POLICY, proposals)
    sync, client = engine_for(org)
    with client:
        report = sync.run()
        assert report.actions_sent == 6 and report.dead_lettered == 1
        queue = DecisionQueue(org.ops, POLICY)
        merge = queue.get(ids[6])
        assert merge.state == State.DEAD_LETTERED and merge.state_reason.startswith(SALESFORCE_MERGE_REFUSAL[:40])
        contacts, tasks = org.records["Contact"], list(org.records["Task"].values())
        assert sorted((t["Subject"], t["Status"], t["WhoId"]) for t in tasks) == [
            ("Call back", "Not Started", c[0]),
            ("Note", "Completed", c[1]),
        ]
        assert {t["Actionhouse_Id__c"] for t in tasks} == {ids[0], ids[1]}
        assert contacts[c[2]]["OwnerId"] == org.user["Marta Schulz"]
        assert contacts[c[3]]["HasOptedOutOfEmail"] == "True"
        assert contacts[c[4]]["Actionhouse_Follow_Up_Date__c"] == "2027-01-15"
        members = list(org.records["CampaignMember"].values())
        assert [(m["CampaignId"], m["ContactId"]) for m in members] == [(org.campaign, c[5])]
        # A replay (as after a crash between Salesforce's answer and the outbox commit) changes nothing there.
        with org.ops.connect() as con:
            rows = con.execute(sa.select(sync_outbox).where(sync_outbox.c.state == "sent")).mappings().all()
        for row in rows:
            request = CrmRequest(
                row["action_id"], row["request_kind"], row["object_type"], row["record_id"], row["payload"]["request"]
            )
            assert sync.writer.send(row["request_kind"], [request])[0].ok
        assert len(org.records["Task"]) == 2 and len(org.records["CampaignMember"]) == 1


def test_score_fields_go_to_contact_custom_fields(org):
    import polars as pl

    sync, client = engine_for(org)
    desired = pl.DataFrame({"record_id": org.contacts[:3], **{name: ["1", "2", "3"] for name in CONTACT_FIELDS}})
    with client:
        report = sync.run(desired_fields=desired, send_actions=False)
        assert report.fields_sent == 3
        assert org.records["Contact"][org.contacts[2]]["Actionhouse_Tier__c"] == "3"
        # A person sets the tier in Salesforce: the next change of scores leaves their value.
        client.update([{"type": "Contact", "Id": org.contacts[0], "Actionhouse_Tier__c": "1 (by hand)"}])
        changed = desired.with_columns(pl.lit("9").alias("actionhouse_fit_score"))
        report = sync.run(desired_fields=changed, send_actions=False)
        assert report.fields_sent == 3 and report.fields_kept_for_a_person == 1
        contact = org.records["Contact"][org.contacts[0]]
        assert contact["Actionhouse_Tier__c"] == "1 (by hand)" and contact["Actionhouse_Fit_Score__c"] == "9"
