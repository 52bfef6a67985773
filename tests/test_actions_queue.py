"""The decision queue in the operational store, on SQLite and on a real PostgreSQL server: migrations, content
keys, the state machine, concurrent decisions, the append-only audit log, expiry, the kill switch."""

from __future__ import annotations

import threading
from datetime import timedelta

import polars as pl
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from planning_fixtures import busy_world

import actions.queue as queue_module
from actions.kill_switch import KillSwitch
from actions.planner import StoreView, apply_plan, plan
from actions.policy import load_policy
from actions.queue import DecisionConflict, DecisionQueue, IllegalTransition, NotAllowed
from actions.states import TRANSITIONS, State
from actions.suppression import SuppressionEntry, SuppressionList
from ops_store import open_store
from ops_store.schema import actions as actions_table
from ops_store.schema import metadata, utc_now

POLICY = load_policy()


class Clock:
    """A clock tests move by hand."""

    def __init__(self):
        self.now = utc_now()

    def __call__(self):
        return self.now


@pytest.fixture
def engine(ops_store_url):
    engine = open_store(ops_store_url)
    yield engine
    engine.dispose()


def _planned(engine, clock=None, world=None):
    """Plan the busy world into the store; return the queue."""
    clock = clock or Clock()
    world = world or busy_world()
    result = plan(world, POLICY, StoreView.read(engine, POLICY, clock()), now=clock(), run_id="r1")
    apply_plan(result, engine, POLICY)
    return DecisionQueue(engine, POLICY, clock=clock), result


def _one(queue: DecisionQueue, action_type: str):
    return next(a for a in queue.list(limit=None) if a.action_type == action_type)


def test_migrated_schema_matches_the_tables_the_code_queries(engine):
    with engine.connect() as con:
        diff = compare_metadata(MigrationContext.configure(con), metadata)
    # Index and type details aside, every table and column the code uses exists as declared.
    structural = [d for d in diff if d[0] in ("add_table", "remove_table", "add_column", "remove_column")]
    assert structural == []
    assert sa.inspect(engine).has_table("alembic_version")


def test_same_proposals_are_never_queued_twice(engine):
    queue, first = _planned(engine)
    ids = {a.action_id for a in queue.list(limit=None)}
    assert len(ids) == len(first.actions) >= 6
    again = plan(busy_world(), POLICY, StoreView.read(engine, POLICY, utc_now()), now=utc_now(), run_id="r2")
    assert again.actions == []
    assert sum(again.kept.values()) == len(ids)
    apply_plan(again, engine, POLICY)
    assert {a.action_id for a in queue.list(limit=None)} == ids
    # Content keys: planning the same data again from scratch gives the same ids.
    fresh_engine = open_store("sqlite://")
    fresh = plan(busy_world(), POLICY, StoreView.read(fresh_engine, POLICY, utc_now()), now=utc_now(), run_id="x")
    assert {a.action_id for a in fresh.actions} == ids


def test_every_illegal_transition_is_refused(engine):
    queue, _ = _planned(engine)
    item = _one(queue, "merge_contacts")  # proposed
    for state in State:
        if state in TRANSITIONS[State.PROPOSED]:
            continue
        with pytest.raises(IllegalTransition):
            queue.transition(item.action_id, state, actor="test")
    queue.reject(item.action_id, actor="Dana Steward", note="different people")
    for state in State:  # rejected is final
        with pytest.raises(IllegalTransition):
            queue.transition(item.action_id, state, actor="test")
    assert queue.get(item.action_id).state == State.REJECTED


def test_two_people_deciding_at_once_one_wins(ops_store_url):
    first_engine, second_engine = open_store(ops_store_url), open_store(ops_store_url)
    queue_a, _ = _planned(first_engine)
    queue_b = DecisionQueue(second_engine, POLICY)
    item = _one(queue_a, "merge_contacts")
    seen = queue_b.get(item.action_id).row_version
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def decide(name, queue, decision):
        barrier.wait()
        try:
            outcomes[name] = decision(queue)(item.action_id, actor=name, note=name, seen_version=seen).state
        except DecisionConflict as exc:
            outcomes[name] = exc

    threads = [
        threading.Thread(target=decide, args=("Dana Steward", queue_a, lambda q: q.approve)),
        threading.Thread(target=decide, args=("Demo Approver", queue_b, lambda q: q.reject)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conflicts = [v for v in outcomes.values() if isinstance(v, DecisionConflict)]
    wins = [v for v in outcomes.values() if isinstance(v, State)]
    assert len(conflicts) == 1 and len(wins) == 1
    assert "not recorded" in str(conflicts[0])
    final = queue_a.get(item.action_id)
    assert final.state == wins[0] and final.decided_by in outcomes
    decisions = [e for e in queue_a.events(item.action_id) if e["event"] in ("approved", "rejected")]
    assert len(decisions) == 1
    first_engine.dispose()
    second_engine.dispose()


def test_audit_log_and_suppression_list_are_append_only(engine):
    queue, _ = _planned(engine)
    SuppressionList(engine).add(SuppressionEntry("email", "x@y.com", "manual", "test"), added_by="t")
    KillSwitch(engine).set(True, actor="t", reason="test")
    for table in ("action_events", "suppressions", "kill_switch_events"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as con:
            con.execute(
                sa.text(
                    f"update {table} set added_by = 'x'"
                    if table == "suppressions"
                    else f"update {table} set actor = 'someone else'"
                )
            )
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as con:
            con.execute(sa.text(f"delete from {table}"))
    assert len(queue.events(_one(queue, "merge_contacts").action_id)) == 1


def test_a_decision_records_who_when_what_and_keeps_the_original_payload(engine):
    queue, _ = _planned(engine)
    item = next(a for a in queue.list(limit=None) if a.action_type == "assign_owner" and a.target_id == "gc-3")
    assert item.state == State.APPROVED and item.decided_by == "policy"  # auto
    assert item.payload["new_owner"] == "Pieter de Wit"  # the France-Benelux rep with less open work
    edited = queue.edit(
        item.action_id, actor="Sam Manager", changes={"new_owner": "Olivia Laurent"}, note="she knows them"
    )
    assert edited.state == State.EDITED and edited.payload["new_owner"] == "Pieter de Wit"
    assert edited.edited_payload["new_owner"] == "Olivia Laurent" and not edited.approved_as_is
    approved = queue.approve(item.action_id, actor="Sam Manager")
    assert approved.approved_as_is and approved.decided_by == "Sam Manager"
    event = [e for e in queue.events(item.action_id) if e["event"] == "edited"][0]
    assert event["payload_before"]["new_owner"] == "Pieter de Wit"
    assert event["payload_after"]["new_owner"] == "Olivia Laurent" and event["note"] == "she knows them"


def test_only_routed_people_decide_and_never_actions_cannot_run(engine):
    queue, _ = _planned(engine)
    merge = _one(queue, "merge_contacts")
    with pytest.raises(NotAllowed, match="data_stewards"):
        queue.approve(merge.action_id, actor="Sam Manager")
    referral_policy_owner = _one(queue, "set_follow_up_date")
    with pytest.raises(NotAllowed, match="may not decide"):
        queue.reject(referral_policy_owner.action_id, actor="Random Person")
    queue.approve(merge.action_id, actor="Ada Admin")  # admins decide anything


def test_never_actions_are_context_only(engine):
    world = busy_world()
    world.enrichment_reviews = world.enrichment_reviews.with_columns(pl.lit("blocked_human_verified").alias("reason"))
    queue, _ = _planned(engine, world=world)
    item = _one(queue, "apply_enrichment")
    assert item.risk_class.value == "never"
    assert any(v["rule"] == "escalations.enrichment_against_human_verified" for v in item.policy_verdicts)
    with pytest.raises(NotAllowed, match="never executes"):
        queue.approve(item.action_id, actor="Dana Steward")
    with pytest.raises(NotAllowed):
        queue.edit(item.action_id, actor="Dana Steward", changes={"value": "x"})
    assert queue.reject(item.action_id, actor="Dana Steward").state == State.REJECTED


def test_bulk_approval_is_refused_for_forbidden_types(engine):
    queue, _ = _planned(engine)
    result = queue.bulk_approve("Ada Admin", workflow="merges")
    assert result.approved == [] and "refused by policy" in result.skipped[0][1]
    result = queue.bulk_approve("Ada Admin", workflow="enrichment")
    assert len(result.approved) == 1


def test_expired_proposals_cannot_be_approved(engine):
    clock = Clock()
    queue, _ = _planned(engine, clock)
    item = _one(queue, "merge_contacts")
    clock.now = clock.now + timedelta(hours=POLICY.expiry_hours_for("merge_contacts") + 1)
    with pytest.raises(NotAllowed, match="expired"):
        queue.approve(item.action_id, actor="Dana Steward")
    assert queue.get(item.action_id).state == State.EXPIRED
    assert queue.expire_due() >= 1  # the other open ones
    assert not [a for a in queue.list(limit=None) if a.state in (State.PROPOSED, State.EDITED, State.APPROVED)]


def test_kill_switch_blocks_every_execution(engine):
    queue, _ = _planned(engine)
    switch = KillSwitch(engine, POLICY.kill_switch.default)
    snapshot = SuppressionList(engine).snapshot()
    ready = queue.executable(switch.state().on, snapshot)
    assert ready and all(a.state == State.APPROVED for a in ready)
    switch.set(True, actor="Rita Ops", reason="bad template spotted")
    assert queue.executable(switch.state().on, snapshot) == []
    switch.set(False, actor="Rita Ops", reason="fixed")
    assert len(queue.executable(switch.state().on, snapshot)) == len(ready)
    assert [e["state"] for e in switch.history()] == ["on", "off"]


def _sent(queue: DecisionQueue, item) -> None:
    """Take an approved action through the sync engine's moves to `sent`."""
    for to in (State.QUEUED, State.SENT):
        queue.transition(item.action_id, to, actor="sync")


def test_a_split_is_recorded_only_on_a_sent_merge_once(engine, tmp_path, monkeypatch, capsys):
    from actions.decision_log import copy_decision_log
    from orchestration.cli import main

    clock = Clock()
    queue, _ = _planned(engine, clock)
    merge = _one(queue, "merge_contacts")
    task = next(a for a in queue.list(limit=None) if a.state == State.APPROVED)  # auto: not a merge
    _sent(queue, task)
    with pytest.raises(NotAllowed, match="only a merge"):
        queue.record_split(task.action_id, actor="Ada Admin", reason="wrong")
    with pytest.raises(NotAllowed, match="proposed: only a merge Actionhouse sent"):
        queue.record_split(merge.action_id, actor="Dana Steward", reason="two people")
    queue.approve(merge.action_id, actor="Dana Steward")
    with pytest.raises(NotAllowed, match="approved: only a merge Actionhouse sent"):
        queue.record_split(merge.action_id, actor="Dana Steward", reason="two people")
    _sent(queue, merge)
    with pytest.raises(NotAllowed, match="data_stewards"):
        queue.record_split(merge.action_id, actor="Sam Manager", reason="two people")
    with pytest.raises(NotAllowed, match="Say why"):
        queue.record_split(merge.action_id, actor="Dana Steward", reason="  ")
    assert [e["event"] for e in queue.events(merge.action_id)][-1] == "sent"  # nothing recorded by the refusals

    # The CLI records it (the first characters of the id are enough), with the reason in the audit log.
    monkeypatch.setenv("ACTIONHOUSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ACTIONHOUSE_OPS_DB", engine.url.render_as_string(hide_password=False))
    clock.now += timedelta(hours=2)
    split_as = ["--as", "Dana Steward", "--reason", "father and son, same name"]
    assert main(["queue", "split", merge.action_id[:10], *split_as]) == 0
    assert "recorded as split by Dana Steward" in capsys.readouterr().out
    after = queue.get(merge.action_id)
    assert after.state == State.SENT  # the action itself stays sent
    event = queue.events(merge.action_id)[-1]
    assert (event["event"], event["actor"], event["from_state"], event["to_state"], event["note"]) == (
        "split",
        "Dana Steward",
        "sent",
        "sent",
        "father and son, same name",
    )
    assert main(["queue", "split", merge.action_id[:10], *split_as]) == 1  # once only
    assert "already recorded as split by Dana Steward" in capsys.readouterr().out
    assert main(["queue", "split", task.action_id[:10], *split_as]) == 1
    assert "only a merge" in capsys.readouterr().out
    assert [e["event"] for e in queue.events(merge.action_id)].count("split") == 1

    # The decision log carries it to the warehouse: split_at on that merge only.
    import duckdb

    warehouse = duckdb.connect(str(tmp_path / "w.duckdb"))
    warehouse.execute("set TimeZone = 'UTC'")
    report = copy_decision_log(engine, warehouse)
    split = warehouse.execute("select action_id, split_at from raw.decision_log where split_at is not null").fetchall()
    warehouse.close()
    assert report.split == 1 and split == [(merge.action_id, event["at"])]


def test_slot_states_of_one_workflow_in_one_pass_finds_what_lookups_by_key_find(engine, monkeypatch):
    queue, _ = _planned(engine)
    queue.transition(_one(queue, "send_email").action_id, State.REJECTED, actor="policy")  # a slot with another state
    with engine.connect() as con:
        rows = con.execute(sa.select(actions_table.c.workflow, actions_table.c.slot_key)).all()
    by_workflow: dict[str, list[str]] = {}
    for workflow, slot in rows:
        by_workflow.setdefault(workflow, []).append(slot)
    assert len(by_workflow) > 3
    for workflow, slots in by_workflow.items():
        asked = sorted([*slots, "no-such-slot", *slots[:2]])
        monkeypatch.setattr(queue_module, "_SCAN_SLOTS_ABOVE", 10**9)
        by_key = queue.slot_states(asked, workflow)
        assert by_key == queue.slot_states(asked) and set(by_key) == set(slots)
        monkeypatch.setattr(queue_module, "_SCAN_SLOTS_ABOVE", 0)
        assert queue.slot_states(asked, workflow) == by_key
