"""Policy backtest: planner inputs kept per run (bounded), past runs replayed against the queue as it was; the policy
in use reproduces what was proposed; a changed cap or class gives the counts worked out by hand; nothing is written."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

import pytest
from planning_fixtures import busy_world, contact, frame, inputs, sequence_candidate
from test_actions_holdout import HALF, policy_with

from actions.backtest import Effect, backtest
from actions.catalog import Workflow
from actions.inputs import SEQUENCE_CANDIDATE_SCHEMA
from actions.planner import StoreView, apply_plan, plan
from actions.policy import DEFAULT_POLICY_PATH, load_policy, parse_policy
from actions.queue import DecisionQueue
from actions.snapshots import FRAMES, KEEP_DAYS_ENV, keep_meanwhile, prune, read_snapshot, total_bytes, write_snapshot
from ops_store.schema import metadata, utc_now

POLICY = load_policy()
TEXT = DEFAULT_POLICY_PATH.read_text()


def _run(engine, root, world, policy, now, run_id):
    """One planning run as the Dagster asset does it: expire, keep the inputs, read the store, plan, write."""
    DecisionQueue(engine, policy, clock=lambda: now).expire_due()
    kept = keep_meanwhile(root, run_id, world, now)
    result = plan(world, policy, StoreView.read(engine, policy, now), now=now, run_id=run_id)
    kept.result()
    apply_plan(result, engine, policy)
    return result


def _store_hash(engine) -> dict[str, str]:
    out = {}
    with engine.connect() as con:
        for table in metadata.sorted_tables:
            rows = con.execute(table.select().order_by(*table.primary_key.columns)).all()
            out[table.name] = hashlib.sha256(repr(rows).encode()).hexdigest() + f":{len(rows)}"
    return out


def _week(engine, root, start, policy=POLICY):
    """Four runs over four days with people deciding in between, new leads arriving and proposals expiring (the
    expiries stamped with the simulated clock, days before the real one: the replay goes by the logs' order)."""
    _run(engine, root, busy_world(), policy, start, "run-1")
    queue = DecisionQueue(engine, policy)
    waiting = queue.list(states=["proposed"], limit=None)
    merge = next(a for a in waiting if a.action_type == "merge_contacts")
    queue.reject(merge.action_id, actor="Dana Steward", note="two people")
    enrichment = next(a for a in waiting if a.action_type == "apply_enrichment")
    queue.approve(enrichment.action_id, actor="Dana Steward")
    later = busy_world()
    new = inputs([contact(f"gc-{i}", None, "GB", tier=1) for i in range(30, 50)])
    later.contacts = later.contacts.vstack(new.contacts)
    _run(engine, root, later, policy, start + timedelta(hours=1), "run-2")
    _run(engine, root, later, policy, start + timedelta(hours=30), "run-3")
    _run(engine, root, later, policy, start + timedelta(hours=100), "run-4")


def test_snapshots_round_trip_and_are_pruned_by_age(tmp_path):
    world = busy_world()
    now = utc_now()
    write_snapshot(tmp_path, "run:1/a", world, now)
    back, meta = read_snapshot(tmp_path, "run:1/a")
    assert back.contacts.equals(world.contacts) and back.replies.equals(world.replies)
    assert back.as_of == world.as_of and back.missing == world.missing and meta["now"] == now.isoformat()
    assert total_bytes(tmp_path) > 0
    assert prune(tmp_path, keep=1, now=now + timedelta(hours=23)) == 0
    assert prune(tmp_path, keep=1, now=now + timedelta(hours=25)) == 1 and total_bytes(tmp_path) == 0


def test_snapshots_kept_meanwhile_are_the_ones_written_and_errors_reach_the_waiter(tmp_path, monkeypatch):
    world = busy_world()
    now = utc_now()
    kept = keep_meanwhile(tmp_path / "kept", "run-1", world, now)
    write_snapshot(tmp_path / "written", "run-1", world, now)
    assert kept.result() is None
    (back, meta), (same, same_meta) = (
        read_snapshot(tmp_path / "kept", "run-1"),
        read_snapshot(tmp_path / "written", "run-1"),
    )
    assert all(getattr(back, name).equals(getattr(same, name)) for name in FRAMES)
    assert {**meta, "written_at": None} == {**same_meta, "written_at": None}
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(OSError):
        keep_meanwhile(tmp_path / "a-file", "run-2", world, now).result()
    monkeypatch.setenv(KEEP_DAYS_ENV, "0")  # none kept: nothing written, old ones pruned
    keep_meanwhile(tmp_path / "kept", "run-3", world, now + timedelta(hours=1)).result()
    assert not (tmp_path / "kept").exists() or not any((tmp_path / "kept").iterdir())


@pytest.mark.parametrize("policy", [POLICY, HALF], ids=["default", "half-held-out"])
def test_backtest_of_the_policy_in_use_reproduces_what_was_proposed(engine, tmp_path, policy):
    start = utc_now() - timedelta(days=5)
    _week(engine, tmp_path, start, policy)
    report = backtest(engine, policy, tmp_path, since=start - timedelta(minutes=1))
    assert [r.run_id for r in report.runs] == ["run-1", "run-2", "run-3", "run-4"]
    expired = DecisionQueue(engine, policy).list(states=["expired"], limit=None)
    assert expired, "some proposals expired before the last run"
    assert report.reproduced, [(r.run_id, len(r.added), len(r.dropped)) for r in report.runs]
    totals = report.totals()
    assert totals["added"] == totals["dropped"] == totals["reclassed"] == 0
    with engine.connect() as con:
        made = con.execute(metadata.tables["actions"].select()).all()
    assert totals["actual"] == totals["candidate"] == len(made) > 0
    assert report.runs[1].actual > 0, "the second run proposed something (the new lead)"
    assert all(a == c for a, c in report.workload.values())
    if policy is HALF:
        assert 0 < totals["held_out_actual"] == totals["held_out_candidate"]


def test_backtest_writes_nothing(engine, tmp_path):
    start = utc_now() - timedelta(days=5)
    _week(engine, tmp_path, start)
    before, files_before = _store_hash(engine), total_bytes(tmp_path)
    stricter = parse_policy(TEXT.replace("  assign_owner: auto", "  assign_owner: approve", 1))
    for policy in (POLICY, stricter):
        backtest(engine, policy, tmp_path, since=start - timedelta(minutes=1))
    assert _store_hash(engine) == before and total_bytes(tmp_path) == files_before
    assert before["actions"].endswith(f":{len(DecisionQueue(engine, POLICY).list(limit=None))}")


def test_a_changed_class_is_reported_as_re_classed(engine, tmp_path):
    start = utc_now() - timedelta(days=5)
    _week(engine, tmp_path, start)
    stricter = parse_policy(TEXT.replace("  assign_owner: auto", "  assign_owner: approve", 1))
    report = backtest(engine, stricter, tmp_path, since=start - timedelta(minutes=1))
    auto_owner_changes = [
        a
        for a in DecisionQueue(engine, POLICY).list(limit=None)
        if a.action_type == "assign_owner" and a.risk_class == "auto"
    ]
    totals = report.totals()
    assert totals["reclassed"] == len(auto_owner_changes) > 0
    assert totals["added"] == totals["dropped"] == 0
    assert report.workflows["lead_routing"].reclass_examples["assign_owner auto -> approve"] > 0


def test_a_lower_daily_cap_drops_and_defers_what_was_worked_out_by_hand(engine, tmp_path):
    # 6 prospects with a demo request, none in the sequences holdout group; each enrolment has 2 step drafts.
    ids = [i for i in range(1, 200) if not POLICY.in_holdout(Workflow.SEQUENCES, f"gc-{i}")][:6]
    people = [contact(f"gc-{i}", "Alice Carter", "US", tier=1, first_name="Lee") for i in ids]
    world = inputs(people)
    world.sequence_candidates = frame(
        [sequence_candidate(f"gc-{i}", demo_requests_30d=1) for i in ids], SEQUENCE_CANDIDATE_SCHEMA
    )
    start = (utc_now() - timedelta(days=3)).replace(hour=1, minute=0, second=0, microsecond=0)
    for n, hours in enumerate((0, 1, 24), 1):  # two runs on day one, one on day two
        _run(engine, tmp_path, world, POLICY, start + timedelta(hours=hours), f"run-{n}")
    made = DecisionQueue(engine, POLICY).list(workflow="sequences", limit=None)
    assert len(made) == 6, "the policy in use enrolled all 6 on day one (cap 100)"
    capped = parse_policy(re.sub(r"max_new_per_day: 100", "max_new_per_day: 2", TEXT, count=1))
    report = backtest(engine, capped, tmp_path, since=start - timedelta(minutes=1))
    seq, drafts = report.workflows["sequences"], report.workflows["sequence_drafts"]
    # By hand: day one, run 1: 2 enrolled instead of 6 -> 4 dropped (and their 2 drafts each: 8); run 2: nothing
    # new either way (the day's room is used: the 4 left wait). Day two, run 3: 2 more enrolled (+4 drafts) where
    # the policy in use proposed nothing new.
    assert [(len(r.added), len(r.dropped)) for r in report.runs] == [(0, 12), (0, 0), (6, 0)]
    assert (seq.actual, seq.candidate, seq.added, seq.dropped) == (6, 4, 2, 4)
    assert (drafts.actual, drafts.candidate, drafts.added, drafts.dropped) == (12, 8, 4, 8)
    # Alice's workload: 18 actions actually, 12 under the candidate.
    assert report.workload["Alice Carter"] == (18, 12)
    assert not report.reproduced


def test_holdout_shares_in_a_candidate_and_the_effect_hook(engine, tmp_path):
    start = utc_now() - timedelta(days=5)
    _week(engine, tmp_path, start, HALF)
    none = parse_policy(policy_with(None))
    report = backtest(
        engine, none, tmp_path, since=start - timedelta(minutes=1), effects=lambda w: Effect("meetings", 0.5, 0.1, 0.9)
    )
    made = DecisionQueue(engine, POLICY).list(states=["held_out"], limit=None)
    routed = [a for a in made if a.workflow == "lead_routing"]
    totals = report.totals()
    assert 0 < totals["held_out_actual"] == len(made) and totals["held_out_candidate"] == 0
    routing = report.workflows["lead_routing"]
    # Without holdouts every held-out routing target is treated: that many more treated, times the lift per target.
    assert routing.treated_delta == len(routed) > 0
    assert routing.estimated_effect == pytest.approx(len(routed) * 0.5)
    assert routing.effect_ci == pytest.approx((len(routed) * 0.1, len(routed) * 0.9))
    assert json.loads(json.dumps(report.as_dict()))["workflows"]["lead_routing"]["effect_metric"] == "meetings"


def test_backtest_command(engine, tmp_path, monkeypatch, capsys):
    from orchestration.cli import main

    data = tmp_path / "data"
    start = utc_now() - timedelta(days=5)
    _week(engine, data / "planner_snapshots", start)
    monkeypatch.setenv("ACTIONHOUSE_DATA_DIR", str(data))
    monkeypatch.setenv("ACTIONHOUSE_OPS_DB", str(engine.url))
    candidate = tmp_path / "candidate.yml"
    candidate.write_text(TEXT.replace("  assign_owner: auto", "  assign_owner: approve", 1))
    assert main(["policy", "backtest", str(candidate), "--since", "6d"]) == 0
    out = capsys.readouterr().out
    assert "run 4/4" in out and "reproduced=no" in out and "Nothing was written" in out
    assert re.search(r"re-classed assign_owner auto -> approve: \d+", out)
    assert main(["policy", "backtest", str(DEFAULT_POLICY_PATH), "--since", "6d", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reproduced"] is True
    assert main(["policy", "backtest", str(candidate), "--since", "last week"]) == 2


def test_an_expired_review_offered_again_with_the_same_id_is_not_a_new_proposal(engine, tmp_path):
    # The merge review expires (168 h) and the planner offers the same pair again: the same action id, which the
    # queue already holds, so nothing new is stored — and the replay must not count it as added.
    start = utc_now() - timedelta(days=10)
    first = _run(engine, tmp_path, busy_world(), POLICY, start, "run-1")
    merge = next(a for a in first.actions if a.action_type == "merge_contacts")
    second = _run(engine, tmp_path, busy_world(), POLICY, start + timedelta(hours=200), "run-2")
    assert merge.action_id in {a.action_id for a in second.actions}
    assert DecisionQueue(engine, POLICY).get(merge.action_id).state == "expired"
    report = backtest(engine, POLICY, tmp_path, since=start - timedelta(minutes=1))
    assert report.reproduced and report.totals()["added"] == 0


def test_effects_are_read_from_the_outcome_marts_lift_table():
    """The backtest's effect source reads `marts.fct_workflow_lift` as the outcome marts build it (columns of the
    dbt model): a workflow without an interval yet (no held-out actions) has no effect; no table, no effects."""
    import duckdb

    from actions.backtest import warehouse_effects

    con = duckdb.connect()
    assert warehouse_effects(con)("sla") is None
    con.execute("create schema marts")
    con.execute(
        "create table marts.fct_workflow_lift (workflow varchar, outcome varchar, window_days integer, "
        "treated_n bigint, lift double, lift_ci_low double, lift_ci_high double, sample_size_note varchar)"
    )
    con.execute(
        "insert into marts.fct_workflow_lift values "
        "('sla', 'meeting booked', 14, 120, 0.12, 0.03, 0.21, null), "
        "('at_risk', 'renewed', 90, 8, null, null, null, 'no held-out actions yet: no lift')"
    )
    effects = warehouse_effects(con)
    assert effects("sla") == Effect(metric="meeting booked", lift=0.12, ci_low=0.03, ci_high=0.21)
    assert effects("at_risk") is None and effects("sequences") is None
