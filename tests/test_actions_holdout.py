"""Holdout groups: a stable seeded assignment close to the share; held-out actions recorded as `held_out`, never
approved, queued, sent or shown as to-do, never proposed again, taking no owner load; the policy section validated
with the line of each mistake (safety workflows are never held out)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta

import polars as pl
import pytest
from planning_fixtures import busy_world, contact, frame, inputs, reply

from actions.catalog import Workflow
from actions.holdout import bucket, in_holdout
from actions.inputs import REPLY_SCHEMA
from actions.planner import StoreView, apply_plan, plan
from actions.policy import DEFAULT_POLICY_PATH, PolicyError, load_policy, parse_policy
from actions.queue import DecisionQueue, IllegalTransition, NotAllowed
from actions.states import FINAL, State
from actions.suppression import SuppressionList
from console import store_views
from ops_store.schema import actions, utc_now

TEXT = DEFAULT_POLICY_PATH.read_text()
SEED = "test-seed"


def policy_with(shares: dict[str, float] | None, seed: str = SEED, text: str = TEXT):
    """The default policy with its holdouts section replaced (None: no holdouts at all)."""
    section = ""
    if shares is not None:
        section = f"holdouts:\n  seed: {seed}\n  shares:\n" + "".join(f"    {w}: {s}\n" for w, s in shares.items())
    return re.sub(r"holdouts:\n  seed: .*\n  shares:\n(    .*\n)+", section, text, count=1)


HALF = parse_policy(policy_with({"lead_routing": 0.5, "sla": 0.5, "at_risk": 0.5, "meetings": 0.5}))
NONE = parse_policy(policy_with(None))


def _plan(engine, world, policy, now, run_id):
    result = plan(world, policy, StoreView.read(engine, policy, now), now=now, run_id=run_id)
    apply_plan(result, engine, policy)
    return result


# ---- assignment ---------------------------------------------------------------------------------------------
def test_assignment_is_stable_and_close_to_the_share_on_10k_ids():
    ids = [f"gc-{i:06d}" for i in range(10_000)]
    held = [g for g in ids if in_holdout("sla", g, 0.1, SEED)]
    assert abs(len(held) / len(ids) - 0.1) < 0.01, len(held)
    assert held == [g for g in ids if in_holdout("sla", g, 0.1, SEED)], "same answer on every call"
    # Independent per workflow and per seed: about share^2 of ids are in both groups.
    other = {g for g in ids if in_holdout("sequences", g, 0.1, SEED)}
    assert 40 <= len(other & set(held)) <= 160
    reseeded = {g for g in ids if in_holdout("sla", g, 0.1, "another-seed")}
    assert len(reseeded & set(held)) < 200
    # A larger share keeps everyone a smaller share held out (a group only grows when the share grows).
    assert set(held) <= {g for g in ids if in_holdout("sla", g, 0.2, SEED)}
    assert not any(in_holdout("sla", g, 0.0, SEED) for g in ids[:500])
    # The hash is part of the contract with the outcome marts: a change here would reshuffle every group.
    assert bucket("sla", "gc-000001", "actionhouse-holdout-1") == pytest.approx(0.29441311525449765, abs=1e-15)


def test_assignment_is_the_same_in_another_process():
    ids = [f"gc-{i:06d}" for i in range(2_000)]
    code = (
        "from actions.holdout import in_holdout;"
        f"print(','.join(g for g in [f'gc-{{i:06d}}' for i in range(2000)] if in_holdout('at_risk', g, 0.1, '{SEED}')))"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other.split(",") == [g for g in ids if in_holdout("at_risk", g, 0.1, SEED)]


# ---- policy -------------------------------------------------------------------------------------------------
def _problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "candidate.yml")
    return caught.value.problems


def _line(fragment: str, text: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_default_policy_holds_out_a_tenth_of_the_measured_workflows():
    policy = load_policy()
    measured = {"lead_routing", "sla", "sequences", "at_risk", "no_show", "meetings"}
    assert {w.value for w in Workflow if policy.holdout_share(w) > 0} == measured | {"sequence_drafts"}
    assert all(policy.holdout_share(w) == 0.1 for w in measured)
    assert policy.holdout_share(Workflow.SUPPRESSION) == 0 and policy.holdout_share(Workflow.MERGES) == 0
    assert NONE.holdouts is None and NONE.holdout_share(Workflow.SLA) == 0


@pytest.mark.parametrize(
    ("shares", "fragment", "words"),
    [
        ({"sla": 0.1, "suppression": 0.1}, "suppression: 0.1", "safety workflow: it is never held out"),
        ({"merges": 0.05}, "merges: 0.05", "never held out"),
        ({"sla": 0.6}, "sla: 0.6", "less than or equal to 0.5"),
        ({"sla": -0.1}, "sla: -0.1", "greater than or equal to 0"),
        ({"routing_typo": 0.1}, "routing_typo", "Input should be"),
        ({"sequence_drafts": 0.1}, "sequence_drafts: 0.1", "follows the sequences holdout group"),
    ],
)
def test_holdout_mistakes_are_refused_with_their_line(shares, fragment, words):
    text = policy_with(shares)
    problems = _problems(text)
    assert any(line == _line(fragment, text) and words in message for line, message in problems), problems


def test_a_holdout_section_needs_a_seed():
    text = policy_with({"sla": 0.1}, seed='""')
    assert any(line == _line("seed:", text) and "holdouts.seed" in m for line, m in _problems(text))


# ---- planner, queue, console --------------------------------------------------------------------------------
def _routing_world(n: int = 40):
    """`n` contacts in GB without an owner (tier 1): one routing decision each."""
    return inputs([contact(f"gc-{i}", None, "GB", tier=1) for i in range(100, 100 + n)])


def test_held_out_actions_are_recorded_never_sent_never_to_do_never_proposed_again(engine):
    now = utc_now()
    first = _plan(engine, _routing_world(), HALF, now, "r1")
    routing = [a for a in first.actions if a.workflow == Workflow.LEAD_ROUTING]
    held = [a for a in routing if a.holdout]
    expected = {a.target.id for a in routing if HALF.in_holdout(Workflow.LEAD_ROUTING, a.target.id)}
    assert {a.target.id for a in held} == expected and 8 <= len(held) <= 32
    assert first.held_out[Workflow.LEAD_ROUTING] == len(held)
    queue = DecisionQueue(engine, HALF)
    stored = queue.list(states=[State.HELD_OUT.value], limit=None)
    assert {s.action_id for s in stored} == {a.action_id for a in held}
    sample = stored[0]
    assert State.HELD_OUT in FINAL
    assert sample.state_reason == "held out: lead_routing holdout group 50%"
    assert sample.decided_by == "policy" and sample.approved_payload_hash is None
    assert sample.workflow == "lead_routing" and sample.target_id.startswith("gc-") and sample.policy_version
    assert [e["event"] for e in queue.events(sample.action_id)] == ["held_out"]

    # Never approved, edited, rejected or queued — by a person, an admin, or the sync engine.
    with pytest.raises(NotAllowed, match="held out"):
        queue.approve(sample.action_id, actor="Ada Admin")
    with pytest.raises(NotAllowed, match="held out"):
        queue.edit(sample.action_id, actor="Ada Admin", changes={"new_owner": "Jack Thompson"})
    with pytest.raises(IllegalTransition):
        queue.transition(sample.action_id, State.APPROVED, actor="Ada Admin")
    assert queue.transition_many([(s.action_id, State.QUEUED, None, None) for s in stored], actor="sync") == [
        s.action_id for s in stored
    ]
    executable = queue.executable(kill_switch_on=False, suppression=SuppressionList(engine).snapshot())
    assert executable and not {e.action_id for e in executable} & {s.action_id for s in stored}

    # Not a to-do in the console: the queue page and the waiting counts leave them out; the workflow page counts them.
    page, total = store_views.queue_page(engine, {})
    assert total == len(page) and not any(r["state"] == "held_out" for r in page)
    assert sum(r["waiting"] for r in store_views.waiting_per_workflow(engine)) == total
    assert store_views.workflow_metrics(engine)["per_workflow"]["lead_routing"]["held_out"] == len(held)

    # The next hour: decided slots are not proposed again (a held-out slot is as decided as any).
    later = _plan(engine, _routing_world(), HALF, now + timedelta(hours=1), "r2")
    assert not [a for a in later.actions if a.workflow == Workflow.LEAD_ROUTING]
    assert later.kept[Workflow.LEAD_ROUTING] == len(routing)
    with engine.connect() as con:
        assert con.execute(actions.select().where(actions.c.state == "held_out")).all().__len__() == len(held)


def test_held_out_targets_take_no_owner_load_and_no_daily_room(engine):
    world = _routing_world()
    now = utc_now()
    result = plan(world, HALF, StoreView.read(engine, HALF, now), now=now, run_id="r")
    treated = {a.target.id: a.payload["new_owner"] for a in result.actions if not a.holdout}
    # The same run without the held-out contacts (and without holdouts) gives the treated ones the same owners:
    # the owner a held-out target would have got was not counted in anyone's load.
    alone = inputs([contact(g, None, "GB", tier=1) for g in sorted(treated, key=lambda g: int(g[3:]))])
    without = plan(alone, NONE, StoreView.read(engine, NONE, now), now=now, run_id="r0")
    assert {a.target.id: a.payload["new_owner"] for a in without.actions} == treated
    apply_plan(result, engine, HALF)
    view = StoreView.read(engine, HALF, now)
    assert view.proposed_today[Workflow.LEAD_ROUTING.value] == len(treated)


def test_safety_actions_are_never_held_out(engine):
    # A seed that puts the busy world's contacts in the holdout groups of routing, SLA and reply routing.
    groups = ("sla", "lead_routing", "reply_routing")
    seed = next(
        s
        for s in (f"seed-{i}" for i in range(20_000))
        if all(in_holdout(w, f"gc-{n}", 0.5, s) for w in groups for n in (1, 3, 4, 5))
    )
    policy = parse_policy(policy_with(dict.fromkeys(groups, 0.5), seed=seed))
    world = busy_world()
    threat = reply("e-9", "gc-4", "compliance_threat", hours_ago=2)
    world.replies = pl.concat([world.replies, frame([threat], REPLY_SCHEMA)])
    result = _plan(engine, world, policy, utc_now(), "r")
    held = [a for a in result.actions if a.holdout]
    assert {a.workflow for a in held} >= {Workflow.SLA, Workflow.LEAD_ROUTING, Workflow.REPLY_ROUTING}
    escalations = [a for a in result.actions if a.action_type == "escalate_reply" and a.target.id == "gc-4"]
    assert escalations and not any(a.holdout for a in escalations), "a legal threat always reaches a person"
    assert not any(a.holdout for a in result.actions if a.workflow in (Workflow.SUPPRESSION, Workflow.MERGES))
