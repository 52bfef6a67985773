"""The sync engine against the sandbox CRM on loopback, with its fault injection: exactly the approved rows, once;
retries, dead letters, last-mile checks, the kill switch, the lease, dry runs, field syncs and people's edits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import polars as pl
import pytest
import sqlalchemy as sa

from actions.catalog import Workflow
from actions.kill_switch import KillSwitch
from actions.policy import load_policy
from actions.queue import DecisionQueue
from actions.states import State
from actions.suppression import SuppressionEntry, SuppressionList
from crm_sandbox.config import SandboxConfig
from crm_sandbox.server import start_sandbox
from crm_sandbox.store import SandboxStore
from evaluation.sync_world import APPROVER, mixed_proposals, proposal, queue_approved, seed_sandbox
from ops_store import open_store
from ops_store.schema import sync_log, sync_outbox
from reverse_etl.crm.base import CrmError
from reverse_etl.crm.hubspot import HubSpotClient
from reverse_etl.sync import LeaseHeld, SyncEngine
from reverse_etl.sync.fields import CONTACT_FIELDS
from reverse_etl.sync.writers import HubSpotWriter

TOKEN = "sync-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}  # the sandbox administration needs a token too
POLICY = load_policy()


@pytest.fixture
def crm(tmp_path):
    """A sandbox CRM seeded with owners and 300 contacts; faults are switched on per test."""
    config = SandboxConfig(
        db_path=tmp_path / "crm.sqlite", tokens=(TOKEN,), rate_limit=2000, search_rate_limit=100, fault_seed=5
    )
    store = SandboxStore(config.db_path, config.unique_properties)
    ids = seed_sandbox(store, 300)
    store.close()
    server, app = start_sandbox(config)
    server.records = ids
    server.store = app.state.store
    server.stats = app.state.stats
    yield server
    server.stop()


@pytest.fixture
def ops(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    yield engine
    engine.dispose()


def engine_for(crm, ops, **client_options) -> SyncEngine:
    options = {"rate_limit": 2000, "backoff_base_s": 0.01, "backoff_cap_s": 0.05, "seed": 1, **client_options}
    client = HubSpotClient(crm.url, TOKEN, **options)
    return SyncEngine(ops, HubSpotWriter(client, "hubspot@sandbox"), POLICY)


def tasks(records: list[str]) -> list:
    """A task proposal per record."""
    return [proposal("create_task", r, i, {"subject": "Call"}) for i, r in enumerate(records)]


def counts(ops, tables) -> dict[str, int]:
    with ops.connect() as con:
        return {t: con.execute(sa.text(f"select count(*) from {t}")).scalar() for t in tables}


def faults(crm, **rates) -> None:
    httpx.patch(f"{crm.url}/_sandbox/faults", json=rates, headers=ADMIN).raise_for_status()


def states(ops) -> dict[str, int]:
    with ops.connect() as con:
        return dict(con.execute(sa.text("select state, count(*) from actions group by state")).all())


def assert_in_crm_exactly_once(crm, ops, action_ids: list[str]) -> None:
    """Every sent action's effect is in the CRM once: one task per task action, the property values, opt-outs."""
    queue = DecisionQueue(ops, POLICY)
    store = crm.store
    for action_id in action_ids:
        action = queue.get(action_id)
        assert action.state == State.SENT, (action.action_type, action.state, action.state_reason)
        record = action.target_crm_ids[0]["record_id"]
        contact = store.get("contacts", int(record)).properties
        if action.action_type in ("create_task", "escalate_reply"):
            assert store.find_id("tasks", "actionhouse_id", action_id) is not None
        elif action.action_type == "set_follow_up_date":
            assert contact["actionhouse_follow_up_date"] == "2027-01-15"
        elif action.action_type == "assign_owner":
            assert contact["hubspot_owner_id"] == "70000002"  # Marta Schulz
        elif action.action_type == "crm_unsubscribe":
            assert contact.get("hs_email_optout") == "true"
    tasks = [a for a in action_ids if queue.get(a).action_type in ("create_task", "escalate_reply")]
    assert store.counts().get("tasks", 0) == len(tasks), "no task was created twice"


def test_sends_exactly_the_approved_actions_once(crm, ops):
    ids = queue_approved(ops, POLICY, mixed_proposals(crm.records[:50]))
    # Proposed but not approved: never sent.
    waiting = mixed_proposals(crm.records[50:55], start=50)
    waiting = [
        p.model_copy(
            update={"action_type": "add_referred_contact", "payload": {"first_name": "A", "last_name": f"B{i}"}}
        )
        for i, p in enumerate(waiting)
    ]
    from actions.guardrails import GuardrailContext, classify
    from actions.suppression import SuppressionSnapshot
    from ops_store.schema import utc_now

    pending, _ = classify(waiting, POLICY, GuardrailContext(SuppressionSnapshot({}, {}, {}, {})), utc_now(), utc_now())
    DecisionQueue(ops, POLICY).add(pending)
    report = engine_for(crm, ops).run()
    assert report.actions_sent == 50 and report.dead_lettered == 0
    assert_in_crm_exactly_once(crm, ops, ids)
    assert states(ops) == {"sent": 50, "proposed": 5}
    again = engine_for(crm, ops).run()
    assert again.actions_sent == 0 and again.enqueued == 0
    with ops.connect() as con:
        logged = con.execute(
            sa.select(sa.func.count()).select_from(sync_log).where(sync_log.c.status == "sent")
        ).scalar()
    assert logged == 50


@pytest.mark.parametrize(
    "rates",
    [
        {"fault_5xx_rate": 0.3},
        {"fault_partial_rate": 0.3},
        {"fault_locked_rate": 0.3},
        {"fault_slow_rate": 0.3, "slow_seconds": 0.6},
    ],
    ids=["5xx", "207-partial", "423-locked", "timeouts"],
)
def test_faults_are_retried_without_duplicates(crm, ops, rates):
    ids = queue_approved(ops, POLICY, mixed_proposals(crm.records[:60]))
    faults(crm, **rates)
    # A timed-out write may have gone through on the CRM side: resending it must not duplicate it.
    timeout = {"timeout_s": 0.3} if "slow_seconds" in rates else {}
    sync = engine_for(crm, ops, max_attempts=3, **timeout)
    for _ in range(6):  # later runs pick up what a run left retryable
        with ops.begin() as con:  # no waiting for the backoff in a test
            con.execute(sa.update(sync_outbox).values(next_attempt_at=sa.func.current_timestamp()))
        try:
            sync.run()
        except CrmError:  # the CRM failing the run's own look-ups (owners, properties): the next run tries again
            continue
        if states(ops).get("sent") == 60:
            break
    faults(crm, fault_5xx_rate=0, fault_partial_rate=0, fault_locked_rate=0, fault_slow_rate=0)
    assert states(ops) == {"sent": 60}
    assert_in_crm_exactly_once(crm, ops, ids)
    injected = sum(crm.stats[k] for k in ("faults_5xx", "faults_partial_rows", "faults_423", "faults_slow"))
    assert injected > 0


def test_a_429_storm_slows_the_sync_down_but_loses_nothing(tmp_path, ops):
    config = SandboxConfig(db_path=tmp_path / "storm.sqlite", tokens=(TOKEN,), rate_limit=20, rate_window_s=1.0)
    store = SandboxStore(config.db_path, config.unique_properties)
    records = seed_sandbox(store, 40)
    store.close()
    server, app = start_sandbox(config)
    server.store, server.stats = app.state.store, app.state.stats
    stop = threading.Event()

    def other_integration():  # another app on the same HubSpot account spends most of the shared quota
        with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            while not stop.is_set():
                http.get(f"{server.url}/crm/v3/owners")
                time.sleep(0.07)

    noise = threading.Thread(target=other_integration, daemon=True)
    try:
        ids = queue_approved(ops, POLICY, mixed_proposals(records))
        noise.start()
        report = engine_for(server, ops, rate_limit=20, rate_window_s=1.0, max_rate_limit_retries=50).run()
        assert report.actions_sent == 40
        assert server.stats["rate_limited"] > 10
        assert_in_crm_exactly_once(server, ops, ids)
    finally:
        stop.set()
        server.stop()


def test_a_validation_error_dead_letters_only_its_row(crm, ops):
    good = [
        proposal("assign_owner", r, i, {"new_owner": "Marta Schulz"}, Workflow.LEAD_ROUTING)
        for i, r in enumerate(crm.records[:9])
    ]
    bad = proposal("assign_owner", crm.records[9], 9, {"new_owner": "Marta Schulz"}, Workflow.LEAD_ROUTING)
    bad = bad.model_copy(update={"target": bad.target.model_copy(update={"crm_ids": []}), "evidence_window": "bad"})
    lead = proposal(
        "add_referred_contact", crm.records[10], 10, {"first_name": "X", "last_name": "Y", "email": "not-an-email"}
    )
    ids = queue_approved(ops, POLICY, [*good, bad, lead])
    report = engine_for(crm, ops).run()
    queue = DecisionQueue(ops, POLICY)
    assert report.actions_sent == 9 and report.dead_lettered == 2
    dead = {
        queue.get(i).action_type: queue.get(i).state_reason for i in ids if queue.get(i).state == State.DEAD_LETTERED
    }
    assert "needs a CRM contact record" in dead["assign_owner"]
    assert "not-an-email" in dead["add_referred_contact"] and "invalid" in dead["add_referred_contact"].lower()


def test_unsubscribed_after_approval_nothing_is_sent(crm, ops):
    ids = queue_approved(
        ops, POLICY, [proposal("create_task", r, i, {"subject": "Call"}) for i, r in enumerate(crm.records[:4])]
    )
    sync = engine_for(crm, ops)
    # Approved, then the first contact unsubscribes before any sync: withdrawn when the sync picks it up.
    SuppressionList(ops).add(SuppressionEntry("email", "person0@acme0.com", "unsubscribe", "test"), added_by="t")
    # The second unsubscribes after it was queued (a run stopped by the kill switch queued it): blocked at send time.
    switch = KillSwitch(ops)
    switch.set(True, actor="Rita Ops", reason="checking")
    stopped = sync.run()
    assert stopped.stopped_by_kill_switch and stopped.enqueued == 3 and stopped.actions_sent == 0
    assert sum(stopped.blocked.values()) == 1
    SuppressionList(ops).add(SuppressionEntry("email", "person1@acme1.com", "unsubscribe", "test"), added_by="t")
    switch.set(False, actor="Rita Ops", reason="done")
    report = sync.run()
    queue = DecisionQueue(ops, POLICY)
    assert report.actions_sent == 2 and sum(report.blocked.values()) == 1
    assert queue.get(ids[0]).state == State.WITHDRAWN and "suppressed after approval" in queue.get(ids[0]).state_reason
    assert queue.get(ids[1]).state == State.WITHDRAWN and "suppressed after approval" in queue.get(ids[1]).state_reason
    assert crm.store.counts().get("tasks") == 2


def test_kill_switch_turned_on_mid_run_stops_every_later_send(crm, ops):
    queue_approved(
        ops, POLICY, [proposal("create_task", r, i, {"subject": "Call"}) for i, r in enumerate(crm.records[:300])]
    )
    sync = engine_for(crm, ops)
    real_send = sync.writer.send
    calls = []

    def send_then_switch(kind, requests):
        outcomes = real_send(kind, requests)
        calls.append(len(requests))
        if len(calls) == 1:
            KillSwitch(ops).set(True, actor="Rita Ops", reason="stop everything")
        return outcomes

    sync.writer.send = send_then_switch
    report = sync.run()
    assert report.stopped_by_kill_switch and calls == [100] and report.actions_sent == 100
    assert crm.store.counts()["tasks"] == 100
    assert states(ops) == {"sent": 100, "queued": 200}
    KillSwitch(ops).set(False, actor="Rita Ops", reason="resume")
    assert engine_for(crm, ops).run().actions_sent == 200


def test_two_syncs_at_once_one_runs(crm, ops):
    queue_approved(
        ops, POLICY, [proposal("create_task", r, i, {"subject": "Call"}) for i, r in enumerate(crm.records[:200])]
    )
    first = engine_for(crm, ops)
    started, release = threading.Event(), threading.Event()
    real_send = first.writer.send

    def slow_send(kind, requests):
        started.set()
        release.wait(10)
        return real_send(kind, requests)

    first.writer.send = slow_send
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("report", first.run()))
    thread.start()
    assert started.wait(10)
    with pytest.raises(LeaseHeld, match="already running"):
        engine_for(crm, ops).run()
    release.set()
    thread.join(20)
    assert result["report"].actions_sent == 200 and crm.store.counts()["tasks"] == 200


def test_the_lease_lets_one_sync_run_on_sqlite_and_postgresql(ops_store_url):
    from datetime import timedelta

    from ops_store.schema import sync_leases, utc_now
    from reverse_etl.sync.lease import Lease

    engine = open_store(ops_store_url)
    first = Lease(engine, "hubspot@x", ttl_seconds=60, holder="other-host:1:a")
    second = Lease(engine, "hubspot@x", ttl_seconds=60, holder="other-host:2:b")
    first.acquire()
    with pytest.raises(LeaseHeld, match="already running"):
        second.acquire()
    # The holder crashed on another machine: it stops renewing, and its lease lapses.
    with engine.begin() as con:
        con.execute(sa.update(sync_leases).values(expires_at=utc_now() - timedelta(seconds=1)))
    second.acquire()
    with pytest.raises(LeaseHeld):
        first.renew()  # the old holder, back, learns it lost the lease and stops
    second.release()
    first.acquire()
    engine.dispose()


def test_an_edit_after_approval_needs_a_new_approval(crm, ops):
    (action_id,) = queue_approved(ops, POLICY, [proposal("create_task", crm.records[0], 0, {"subject": "Call"})])
    queue = DecisionQueue(ops, POLICY)
    queue.edit(action_id, actor=APPROVER, changes={"subject": "Call about the renewal"})
    assert engine_for(crm, ops).run().actions_sent == 0, "edited: waits for an approval"
    queue.approve(action_id, actor=APPROVER)
    assert engine_for(crm, ops).run().actions_sent == 1
    task = crm.store.get("tasks", crm.store.find_id("tasks", "actionhouse_id", action_id)).properties
    assert task["hs_task_subject"] == "Call about the renewal"
    # A payload changed behind the queue's back (not through a decision) is refused at send time.
    (second,) = queue_approved(ops, POLICY, [proposal("create_task", crm.records[1], 1, {"subject": "Call"})])
    KillSwitch(ops).set(True, actor="t", reason="hold")
    engine_for(crm, ops).run()
    with ops.begin() as con:
        con.execute(
            sa.text("update actions set payload = :p where action_id = :a"),
            {"p": '{"subject": "Buy now!!!"}', "a": second},
        )
    KillSwitch(ops).set(False, actor="t", reason="go")
    report = engine_for(crm, ops).run()
    assert report.actions_sent == 0 and "not the one that was approved" in queue.get(second).state_reason


def test_dry_run_writes_nothing(crm, ops):
    queue_approved(ops, POLICY, mixed_proposals(crm.records[:10]))
    before = {
        t: ops.connect().execute(sa.text(f"select count(*) from {t}")).scalar()
        for t in ("sync_outbox", "sync_log", "action_events")
    }
    desired = pl.DataFrame({"record_id": crm.records[:3], **{f: ["1"] * 3 for f in CONTACT_FIELDS}})
    report = engine_for(crm, ops).run(desired_fields=desired, dry_run=True)
    sends = [r for r in report.rows if r.get("would") == "send"]
    assert len(sends) == 10 and all("call" in r for r in sends)
    fields = [r for r in report.rows if r.get("would") == "update fields"]
    assert len(fields) == 3 and fields[0]["changes"]["actionhouse_tier"] == {"crm": None, "new": "1"}
    after = counts(ops, before)
    assert after == before and crm.store.counts().get("tasks", 0) == 0
    assert set(states(ops)) == {"approved"}


def test_field_sync_sends_only_changes_and_keeps_a_persons_edit(crm, ops):
    records = crm.records[:120]
    desired = pl.DataFrame(
        {
            "record_id": records,
            "actionhouse_fit_score": ["50"] * 120,
            "actionhouse_intent_score": ["20"] * 120,
            "actionhouse_combined_score": ["30"] * 120,
            "actionhouse_tier": ["2"] * 120,
            "actionhouse_reasons": ["fit: industry"] * 120,
            "actionhouse_model_version": ["v1"] * 120,
        }
    )
    sync = engine_for(crm, ops)
    first = sync.run(desired_fields=desired)
    assert first.fields_sent == 120
    assert sync.run(desired_fields=desired).fields_sent == 0, "nothing changed: nothing sent"
    # A rep overrides the tier of one contact in the CRM; then the model changes everyone's tier and version.
    HubSpotClient(crm.url, TOKEN).update("contacts", [{"id": records[0], "actionhouse_tier": "1"}])
    changed = desired.with_columns(
        pl.lit("3").alias("actionhouse_tier"), pl.lit("v2").alias("actionhouse_model_version")
    )
    second = sync.run(desired_fields=changed)
    assert second.fields_sent == 120 and second.fields_kept_for_a_person == 1
    overridden = crm.store.get("contacts", int(records[0])).properties
    assert overridden["actionhouse_tier"] == "1", "the person's edit stays"
    assert overridden["actionhouse_model_version"] == "v2", "a property the policy owns is written anyway"
    assert crm.store.get("contacts", int(records[1])).properties["actionhouse_tier"] == "3"
    assert sync.run(desired_fields=changed).fields_sent == 0


def test_kill_9_at_random_points_then_resume(crm, ops, tmp_path):
    """The sync runs in its own process and is killed several times mid-run; every approved action ends in the
    CRM exactly once and the outbox agrees with the CRM."""
    ids = queue_approved(ops, POLICY, mixed_proposals(crm.records[:250]))
    env = {
        **os.environ,
        "ACTIONHOUSE_OPS_DB": str(ops.url),
        "ACTIONHOUSE_CRM_BASE_URL": crm.url,
        "ACTIONHOUSE_CRM_TOKEN": TOKEN,
        "ACTIONHOUSE_DATA_DIR": str(tmp_path),
    }
    faults(crm, fault_slow_rate=0.3, slow_seconds=0.2)  # runs long enough to be interrupted
    kills = 0
    for delay in (0.7, 1.3, 0.9, 1.8):
        worker = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "sync", "run", "--no-fields"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGKILL)
            kills += 1
        worker.wait()
    faults(crm, fault_slow_rate=0)
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "sync", "run", "--no-fields"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert kills >= 2
    assert_in_crm_exactly_once(crm, ops, ids)
    with ops.connect() as con:
        outbox = dict(con.execute(sa.text("select state, count(*) from sync_outbox group by state")).all())
    assert outbox == {"sent": 250}


def test_company_risk_verdicts_sync_by_ledger_diff_like_contacts(crm, ops):
    """Account risk verdicts go to `actionhouse_*` company properties: only changes, a person's edit kept."""
    client = HubSpotClient(crm.url, TOKEN)
    made = client.upsert(
        "companies", [{"actionhouse_id": f"co-{i}", "name": f"Co {i}"} for i in range(6)], "actionhouse_id"
    )
    companies = [o.record_id for o in made]
    desired = pl.DataFrame(
        {
            "record_id": companies,
            "actionhouse_risk_verdict": ["at_risk", "at_risk", "watch", "healthy", "healthy", "healthy"],
            "actionhouse_risk_tier": ["1", "2", "3", None, None, None],
            "actionhouse_risk_signals": [
                "2 escalated support cases in the last 14 days",
                "usage -20%",
                None,
                None,
                None,
                None,
            ],
            "actionhouse_risk_as_of": ["2026-10-31"] * 6,
        }
    )
    sync = engine_for(crm, ops)
    first = sync.run(desired_company_fields=desired, send_actions=False)
    assert first.fields_sent == 6 and first.fields_sent_by_object == {"companies": 6}
    stored = crm.store.get("companies", int(companies[0])).properties
    assert stored["actionhouse_risk_verdict"] == "at_risk" and stored["actionhouse_risk_tier"] == "1"
    assert "actionhouse_risk_signals" in {d["name"] for d in crm.store.property_definitions("companies")}
    assert sync.run(desired_company_fields=desired, send_actions=False).fields_sent == 0, "nothing changed"
    # A CSM marks company 2 healthy by hand; the next day's verdicts move everyone's date and company 4's tier.
    client.update("companies", [{"id": companies[1], "actionhouse_risk_verdict": "healthy"}])
    changed = desired.with_columns(pl.lit("2026-11-01").alias("actionhouse_risk_as_of"))
    changed = changed.with_columns(
        pl.when(pl.col("record_id") == companies[3])
        .then(pl.lit("2"))
        .otherwise(pl.col("actionhouse_risk_tier"))
        .alias("actionhouse_risk_tier")
    )
    second = sync.run(desired_company_fields=changed, send_actions=False)
    assert second.fields_sent == 6 and second.fields_kept_for_a_person == 1
    assert crm.store.get("companies", int(companies[1])).properties["actionhouse_risk_verdict"] == "healthy"
    assert crm.store.get("companies", int(companies[3])).properties["actionhouse_risk_tier"] == "2"
    assert sync.run(desired_company_fields=changed, send_actions=False).fields_sent == 0
