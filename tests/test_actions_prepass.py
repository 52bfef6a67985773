"""The planner's pre-pass (issue 14) skips building the proposals of candidate rows whose slot is taken or that a
daily cap defers. Skipping must never change a plan: on generated worlds over several hours — slots freed by
expiry and withdrawal, a day boundary that resets the caps, rows changing — the fast pass and the full pass (every
proposal built up front, as before) decide exactly the same actions, withdrawals, blocked items and counts."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import polars as pl
import sqlalchemy as sa

from actions.catalog import Workflow
from actions.guardrails import Blocked
from actions.inputs import (
    FOLLOW_UP_SCHEMA,
    MULTITHREAD_SCHEMA,
    OPEN_DEAL_SCHEMA,
    SEQUENCE_CANDIDATE_SCHEMA,
    STAGE_EVIDENCE_SCHEMA,
)
from actions.model import ProposalStub
from actions.planner import StoreView, _proposals_by_workflow, apply_plan, plan
from actions.policy import load_policy
from actions.queue import DecisionQueue
from actions.states import State
from bench.actions import synthetic_inputs
from ops_store import open_store
from ops_store.schema import actions as actions_table

POLICY = load_policy()
NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
FUNCTIONS = ["executive", "finance", "it", "operations", "sales", "marketing"]
STUBBED = {
    Workflow.SUPPRESSION,
    Workflow.HYGIENE,
    Workflow.MULTITHREADING,
    Workflow.SEQUENCES,
    Workflow.SEQUENCE_DRAFTS,
}
INDUSTRIES = ["computer software", "banking", "marketing and advertising", "retail", None]
SIGNALS = ["tool_installs_30d", "hiring_signals_30d", "demo_requests_30d", "pricing_visits_30d", "product_events_30d"]


def _world(seed: int, contacts: int = 1500):
    """Synthetic planner inputs plus hygiene and multi-threading rows for many owners (so caps defer items)."""
    rng = random.Random(seed)
    w = synthetic_inputs(contacts, seed=seed)
    people = w.contacts.select("golden_contact_id", "contact_owner", "golden_account_id").drop_nulls().rows()
    as_of = w.as_of
    meetings, deals, evidence, threads = [], [], [], []
    for n, (golden, owner, _account) in enumerate(rng.sample(people, 400)):
        end = as_of - timedelta(hours=rng.randint(2, 24 * 20))
        touched = rng.random() < 0.3
        meetings.append(
            {
                "meeting_id": 10_000 + n,
                "meeting_name": f"Demo {n}" if n % 5 else None,
                "meeting_start_at": end - timedelta(minutes=30),
                "meeting_end_at": end,
                "owner": owner,
                "contact_record_id": n,
                "golden_contact_id": golden,
                "deal_id": None,
                "first_touch_at": end + timedelta(hours=1) if touched else None,
                "first_touch_id": n if touched else None,
                "first_touch_kind": "CALL" if touched else None,
            }
        )
    for n, (golden, owner, account) in enumerate(rng.sample(people, 250)):
        deals.append(
            {
                "deal_id": 20_000 + n,
                "deal_name": f"Deal {n}",
                "owner": owner,
                "stage": rng.choice(["qualified to buy", "presentation scheduled", "contract sent"]),
                "amount": None if rng.random() < 0.2 else float(rng.randint(1, 90) * 1000),
                "close_date": as_of + timedelta(days=30),
                "created_at": as_of - timedelta(days=10),
                "golden_account_id": account,
                "primary_contact_record_id": n,
                "has_next_step": rng.random() < 0.5,
                "next_meeting_at": None,
                "open_tasks": 0,
                "missing_close_date": rng.random() < 0.3,
                "missing_amount": rng.random() < 0.3,
                "missing_primary_contact": rng.random() < 0.2,
            }
        )
        if n % 10 == 0:
            evidence.append(
                {
                    "deal_id": 20_000 + n,
                    "deal_name": f"Deal {n}",
                    "owner": owner,
                    "stage": "qualified to buy",
                    "golden_account_id": account,
                    "meeting_id": 30_000 + n,
                    "meeting_name": None,
                    "meeting_end_at": as_of - timedelta(days=2),
                    "buyer_record_id": n,
                    "buyer_golden_contact_id": golden,
                    "buyer_seniority": "vp",
                    "buyer_job_title": None,
                }
            )
        if n % 3 == 0:
            for golden2, _, _ in rng.sample(people, 6):
                threads.append(
                    {
                        "deal_id": 20_000 + n,
                        "deal_name": f"Deal {n}",
                        "owner": owner,
                        "stage": "contract sent",
                        "golden_account_id": account,
                        "engaged_stakeholders": rng.randint(0, 2),
                        "functions_covered": ["sales"],
                        "candidate_golden_contact_id": golden2,
                        "candidate_function": rng.choice(FUNCTIONS),
                        "candidate_seniority": rng.choice(["vp", "director", "manager", None]),
                        "candidate_job_title": None,
                    }
                )
    # Sequence candidates: signals strong and weak (below the floor), every draft segment, missing first names and
    # a banned claim in a company name (refused drafts), tiers 1-3; far more than the daily caps let through.
    sequences = []
    for n, (golden, _, _) in enumerate(rng.sample(people, 700)):
        row = {"golden_contact_id": golden, "account_domain": None, "tool_install_signal_id": None}
        row |= {signal: rng.choice([0, 0, 0, 1, 2, 3, 6]) for signal in SIGNALS}
        if row["tool_installs_30d"]:
            row |= {"tool_install_signal_id": f"sig-{n}", "tool_install_detail": "installed a competitor's CRM"}
        sequences.append(row)
    w.sequence_candidates = pl.DataFrame(sequences, schema=SEQUENCE_CANDIDATE_SCHEMA)
    i = pl.int_range(pl.len())
    w.contacts = w.contacts.with_columns(
        industry=pl.Series([INDUSTRIES[n % len(INDUSTRIES)] for n in range(w.contacts.height)], dtype=pl.String),
        first_name=pl.when(i % 17 == 3).then(None).otherwise("first_name"),
        company_name=pl.when(i % 23 == 5).then(pl.lit("Guaranteed Results Ltd")).otherwise("company_name"),
        tier=(i % 3 + 1).cast(pl.Int64),
    )
    w.meeting_follow_ups = pl.DataFrame(meetings, schema=FOLLOW_UP_SCHEMA)
    w.open_deals = pl.DataFrame(deals, schema=OPEN_DEAL_SCHEMA)
    w.stage_evidence = pl.DataFrame(evidence, schema=STAGE_EVIDENCE_SCHEMA)
    w.multithread_candidates = pl.DataFrame(threads, schema=MULTITHREAD_SCHEMA)
    return w


def _same(fast, full) -> None:
    assert [a.model_dump() for a in fast.actions] == [a.model_dump() for a in full.actions]
    assert fast.withdrawals == full.withdrawals
    assert [(b.rule, b.reason, b.proposal.model_dump()) for b in fast.blocked] == [
        (b.rule, b.reason, b.proposal.model_dump()) for b in full.blocked
    ]
    skip = {"seconds", "store_read_at"}
    assert {k: v for k, v in fast.summary().items() if k not in skip} == {
        k: v for k, v in full.summary().items() if k not in skip
    }


def _free_some_slots(engine, now: datetime, rng: random.Random) -> int:
    """Withdraw some open actions and expire others (their slots reopen); reject a few sequence enrolments (their
    drafts are dropped)."""
    queue = DecisionQueue(engine, POLICY, clock=lambda: now)
    open_actions = sorted((a.action_id, a.workflow) for a in queue.iter_open(("action_id", "workflow")))
    enrolments = [i for i, workflow in open_actions if workflow == Workflow.SEQUENCES.value]
    for action_id in rng.sample(enrolments, len(enrolments) // 6):
        queue.reject(action_id, "Rita Ops", note="not this one")
    open_ids = sorted(i for i, _ in open_actions if i not in set(enrolments))
    picked = rng.sample(open_ids, len(open_ids) // 4)
    for action_id in picked[::2]:
        queue.withdraw(action_id, "test: withdrawn")
    with engine.begin() as con:
        con.execute(
            sa.update(actions_table)
            .where(actions_table.c.action_id.in_(picked[1::2]))
            .values(expires_at=now - timedelta(minutes=1))
        )
    return len(picked[::2]) + queue.expire_due()


def test_fast_and_full_passes_plan_the_same_over_hours_days_and_freed_slots():
    for seed in (5, 11):
        world = _world(seed)
        rng = random.Random(seed)
        engine = open_store("sqlite://")
        totals = Counter()
        hours = [NOW, NOW + timedelta(hours=1), NOW + timedelta(hours=2), NOW + timedelta(days=1, hours=1)]
        for n, now in enumerate(hours):
            if n >= 2:  # rows change: some meetings followed up, some deals fixed
                world.meeting_follow_ups = world.meeting_follow_ups.with_columns(
                    first_touch_at=pl.when(pl.col("meeting_id") % 7 == n).then(pl.lit(now)).otherwise("first_touch_at")
                )
                world.open_deals = world.open_deals.filter(pl.col("deal_id") % 11 != n)
            if n >= 1:
                totals["freed"] += _free_some_slots(engine, now, rng)
            fast = plan(world, POLICY, StoreView.read(engine, POLICY, now), now=now, run_id=f"fast-{n}")
            full = plan(world, POLICY, StoreView.read(engine, POLICY, now), now=now, run_id=f"full-{n}", prepass=False)
            _same(fast, full)
            totals["deferred"] += fast.deferred[Workflow.HYGIENE]
            for workflow in (Workflow.SEQUENCES, Workflow.SEQUENCE_DRAFTS):
                totals[f"{workflow.value} deferred"] += fast.deferred[workflow]
                totals[f"{workflow.value} new"] += sum(1 for a in fast.actions if a.workflow == workflow)
            totals["floor"] += sum(1 for b in fast.blocked if b.rule == "sequences.confidence_floor")
            totals["refused drafts"] += sum(1 for b in fast.blocked if b.rule.startswith(("drafts", "content")))
            totals["kept"] += sum(fast.kept[w] for w in STUBBED)
            totals["new"] += sum(1 for a in fast.actions if a.workflow in STUBBED)
            apply_plan(fast, engine, POLICY)
        # The hours exercised what the pre-pass skips (taken slots, capped items) and what it must not (freed slots,
        # a new day's caps).
        assert totals["deferred"] > 20 and totals["kept"] > 50 and totals["freed"] > 10 and totals["new"] > 50, totals
        assert totals["sequences deferred"] > 50 and totals["sequence_drafts deferred"] > 50, totals
        assert totals["sequences new"] > 50 and totals["sequence_drafts new"] > 50, totals
        assert totals["floor"] > 50 and totals["refused drafts"] > 20, totals
        states = DecisionQueue(engine, POLICY).counts(("state",))
        assert {State(r["state"]) for r in states} >= {State.WITHDRAWN, State.EXPIRED, State.REJECTED}


def test_every_stub_builds_the_proposal_it_stands_for():
    world = _world(7)
    by_workflow, _ = _proposals_by_workflow(world, POLICY, {})
    seen = 0
    for workflow, proposals in by_workflow:
        for item in proposals if isinstance(proposals, list) else []:
            stub = item._proposal if isinstance(item, Blocked) else item  # a blocked row may be a stub too
            if isinstance(stub, ProposalStub):
                proposal = stub.build()  # raises if slot, type, owner or account differ
                assert proposal.workflow == workflow == stub.workflow
                assert (proposal.target.kind, proposal.target.id) == (stub.target.kind, stub.target.id)
                seen += 1
    assert seen > 1500
