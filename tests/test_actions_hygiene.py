"""W11 CRM hygiene: follow-up tasks never twice and capped per owner per day, deal flags naming what is missing,
stage changes only with explicit evidence (and approval), suppression first."""

from __future__ import annotations

from datetime import timedelta

from planning_fixtures import AS_OF, contact, frame, inputs, signal

from actions.catalog import RiskClass, Workflow
from actions.inputs import FOLLOW_UP_SCHEMA, OPEN_DEAL_SCHEMA, SIGNAL_SCHEMA, STAGE_EVIDENCE_SCHEMA
from actions.planner import StoreView, apply_plan, plan
from actions.policy import load_policy
from ops_store.schema import utc_now

POLICY = load_policy()
CAP = POLICY.hygiene.max_items_per_owner_per_day


def _plan(engine, world, run_id, now=None):
    now = now or utc_now().replace(hour=12)
    result = plan(world, POLICY, StoreView.read(engine, POLICY, now), now=now, run_id=run_id)
    apply_plan(result, engine, POLICY)
    return result


def meeting(meeting_id: int, golden_id: str, owner: str, days_ago: float, touched: bool = False) -> dict:
    end = AS_OF - timedelta(days=days_ago)
    return {
        "meeting_id": meeting_id,
        "meeting_name": f"Demo {meeting_id}",
        "meeting_start_at": end - timedelta(minutes=30),
        "meeting_end_at": end,
        "owner": owner,
        "contact_record_id": int(golden_id.removeprefix("gc-")),
        "golden_contact_id": golden_id,
        "deal_id": None,
        "first_touch_at": end + timedelta(hours=2) if touched else None,
        "first_touch_id": 1 if touched else None,
        "first_touch_kind": "CALL" if touched else None,
    }


def deal(deal_id: int, owner: str, **extra) -> dict:
    row = {
        "deal_id": deal_id,
        "deal_name": f"Deal {deal_id}",
        "owner": owner,
        "stage": "qualified to buy",
        "amount": 1000.0 * deal_id,
        "close_date": AS_OF + timedelta(days=30),
        "created_at": AS_OF - timedelta(days=10),
        "golden_account_id": "ga-1",
        "primary_contact_record_id": 1,
        "has_next_step": True,
        "next_meeting_at": AS_OF + timedelta(days=2),
        "open_tasks": 0,
        "missing_close_date": False,
        "missing_amount": False,
        "missing_primary_contact": False,
    }
    row.update(extra)
    return row


def world(meetings=(), deals=(), evidence=(), suppressed=()):
    people = [contact(f"gc-{i}", "Alice Carter", "US") for i in range(1, 16)]
    w = inputs(people)
    w.meeting_follow_ups = frame(list(meetings), FOLLOW_UP_SCHEMA)
    w.open_deals = frame(list(deals), OPEN_DEAL_SCHEMA)
    w.stage_evidence = frame(list(evidence), STAGE_EVIDENCE_SCHEMA)
    w.suppression_signals = frame([signal(e, "unsubscribe") for e in suppressed], SIGNAL_SCHEMA)
    return w


def _hygiene(result, kind=None):
    return [a for a in result.actions if a.workflow == Workflow.HYGIENE and (kind is None or a.action_type == kind)]


def test_follow_up_tasks_are_capped_per_owner_per_day_and_never_duplicated(engine):
    owed = [meeting(100 + i, f"gc-{i}", "Alice Carter", days_ago=10 - i * 0.5) for i in range(1, 13)]
    done = meeting(99, "gc-14", "Alice Carter", days_ago=1, touched=True)
    w = world(meetings=[*owed, done])
    day1 = utc_now().replace(hour=9)
    first = _plan(engine, w, "r1", now=day1)
    tasks = _hygiene(first, "create_task")
    assert len(tasks) == CAP and first.deferred[Workflow.HYGIENE] == 12 - CAP
    # Oldest meetings first; a meeting the owner already followed up gets nothing.
    assert [t.payload["meeting"] for t in tasks] == [str(100 + i) for i in range(1, CAP + 1)]
    assert all(t.risk_class == RiskClass.AUTO and t.owner == "Alice Carter" for t in tasks)
    assert not _hygiene(_plan(engine, w, "r2", now=day1 + timedelta(hours=3))), "the day's cap is used up"
    second_day = _plan(engine, w, "r3", now=day1 + timedelta(days=1))
    assert sorted(t.payload["meeting"] for t in _hygiene(second_day)) == [str(100 + i) for i in range(CAP + 1, 13)]
    for n in range(4):
        assert not _hygiene(_plan(engine, w, f"r{4 + n}", now=day1 + timedelta(days=2 + n))), "never twice"


def test_open_deals_are_flagged_with_what_they_miss_once(engine):
    deals = [
        deal(1, "Alice Carter"),
        deal(2, "Alice Carter", has_next_step=False, missing_close_date=True, close_date=None),
        deal(3, "Ben Ortiz", missing_amount=True, amount=None, missing_primary_contact=True),
    ]
    flags = {a.target.id: a for a in _hygiene(_plan(engine, world(deals=deals), "r1"), "flag_deal")}
    assert set(flags) == {"deal-2", "deal-3"}
    assert flags["deal-2"].payload["missing"] == ["next step", "close date"]
    assert (
        flags["deal-3"].payload["properties"]["actionhouse_hygiene_flags"] == "missing amount; missing primary contact"
    )
    assert flags["deal-2"].risk_class == RiskClass.AUTO
    assert not _hygiene(_plan(engine, world(deals=deals), "r2")), "not flagged twice"
    # Deal 2 gets its close date but still has no next step: a new flag for what it now misses.
    fixed = [deals[0], deal(2, "Alice Carter", has_next_step=False), deals[2]]
    again = _hygiene(_plan(engine, world(deals=fixed), "r3"), "flag_deal")
    assert [(a.target.id, a.payload["missing"]) for a in again] == [("deal-2", ["next step"])]


def test_stage_changes_only_with_explicit_evidence_and_approval(engine):
    deals = [deal(5, "Alice Carter"), deal(6, "Alice Carter")]
    evidence = [
        {
            "deal_id": 5,
            "deal_name": "Deal 5",
            "owner": "Alice Carter",
            "stage": "qualified to buy",
            "golden_account_id": "ga-1",
            "meeting_id": 500,
            "meeting_name": "Exec sync",
            "meeting_end_at": AS_OF - timedelta(days=1),
            "buyer_record_id": 3,
            "buyer_golden_contact_id": "gc-3",
            "buyer_seniority": "c_level",
            "buyer_job_title": "CFO",
        }
    ]
    result = _plan(engine, world(deals=deals, evidence=evidence), "r1")
    changes = _hygiene(result, "update_deal")
    assert [a.target.id for a in changes] == ["deal-5"], "no evidence, no stage change (deal 6)"
    (change,) = changes
    assert change.risk_class == RiskClass.APPROVE
    assert change.payload["properties"] == {"dealstage": "decisionmakerboughtin"}
    evidence_rows = {(e.source_table, e.key, e.field): e.value for e in change.evidence}
    assert evidence_rows[("staging.stg_hubspot__meetings", "500", "meeting_outcome")] == "COMPLETED"
    assert evidence_rows[("marts.dim_contacts", "gc-3", "seniority")] == "c_level"
    assert "CFO" in change.reasons[0]


def test_suppression_overrides_hygiene_tasks(engine):
    w = world(
        meetings=[meeting(1, "gc-1", "Alice Carter", 2), meeting(2, "gc-2", "Alice Carter", 2)],
        suppressed=["p1@acme1.com"],
    )
    result = _plan(engine, w, "r1")
    assert [a.target.id for a in _hygiene(result)] == ["gc-2"]
    assert [b.rule for b in result.blocked if b.proposal.workflow == Workflow.HYGIENE] == ["suppression"]


def test_tasks_and_flags_take_turns_under_the_cap(engine):
    owed = [meeting(100 + i, f"gc-{i}", "Alice Carter", days_ago=10 - i * 0.5) for i in range(1, 13)]
    deals = [deal(i, "Alice Carter", has_next_step=False) for i in range(1, 13)]
    mine = _hygiene(_plan(engine, world(meetings=owed, deals=deals), "r1"))
    kinds = [a.action_type for a in mine]
    assert len(mine) == CAP and kinds.count("create_task") == kinds.count("flag_deal") == CAP // 2
