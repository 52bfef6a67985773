"""The planner's workflows and guardrails on small hand-made inputs (no warehouse): what each proposes, what
suppression, caps and the policy stop, what is withdrawn when evidence changes, SLA escalation then re-route."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from planning_fixtures import AS_OF, busy_world, busy_world_an_hour_later, contact, inputs, reply, signal, trigger

from actions.catalog import ACTION_TYPES, RiskClass, Workflow
from actions.guardrails import GuardrailContext, classify
from actions.model import EvidenceRow, Proposal
from actions.planner import StoreView, apply_plan, compare_policies, plan
from actions.policy import load_policy, parse_policy
from actions.queue import DecisionQueue
from actions.states import State
from actions.suppression import SuppressionEntry, SuppressionList, SuppressionSnapshot
from actions.workflows.common import contact_target
from actions.workflows.replies import referred_name
from actions.workflows.routing import OwnerPicker
from ops_store import open_store
from ops_store.schema import utc_now

POLICY = load_policy()
REACHING = {"create_task", "set_follow_up_date", "assign_owner", "sla_escalation", "send_email"}


def _plan(engine, world, run_id="r", now=None):
    now = now or utc_now()
    result = plan(world, POLICY, StoreView.read(engine, POLICY, now), now=now, run_id=run_id)
    apply_plan(result, engine, POLICY)
    return result


def _by_target(result):
    out: dict[str, list] = {}
    for action in result.actions:
        out.setdefault(action.target.id, []).append(action)
    return out


def test_every_workflow_proposes_with_reasons_evidence_and_versions(engine):
    result = _plan(engine, busy_world())
    kinds = {(a.workflow, a.action_type) for a in result.actions}
    assert (Workflow.REPLY_ROUTING, "create_task") in kinds  # positive reply
    assert (Workflow.REPLY_ROUTING, "set_follow_up_date") in kinds  # objection
    assert (Workflow.LEAD_ROUTING, "assign_owner") in kinds
    assert (Workflow.SLA, "sla_escalation") in kinds
    assert (Workflow.MERGES, "merge_contacts") in kinds
    assert (Workflow.ENRICHMENT, "apply_enrichment") in kinds
    assert (Workflow.AT_RISK, "send_email") in kinds and (Workflow.AT_RISK, "escalate_renewal") in kinds
    for action in result.actions:
        assert action.reasons and action.evidence and action.policy_verdicts
        assert action.policy_version == POLICY.version and action.kpi == POLICY.kpis[action.workflow]
        assert action.as_of == AS_OF
    task = next(a for a in result.actions if a.action_type == "create_task" and a.target.id == "gc-1")
    # Tier 1 positive reply an hour ago: due within the policy's 2 h.
    assert task.payload["due_at"] == (AS_OF - timedelta(hours=1) + timedelta(hours=2)).isoformat()
    assert task.risk_class == RiskClass.AUTO and task.owner == "Alice Carter"


def test_suppression_overrides_every_workflow(engine):
    world = busy_world()
    # Everyone on the list: nothing that reaches a contact is proposed; data clean-up still is.
    everyone = [signal(e, "hard_bounce") for row in world.contacts.iter_rows(named=True) for e in row["emails"]]
    world.suppression_signals = inputs(signals=everyone).suppression_signals
    result = _plan(engine, world)
    assert not [a for a in result.actions if a.action_type in REACHING]
    assert {b.rule for b in result.blocked} == {"suppression"}
    assert len(result.blocked) >= 5
    # The at-risk save's email to the customer is stopped too; escalating the renewal deal reaches nobody.
    assert any(
        b.proposal.workflow == Workflow.AT_RISK and b.proposal.action_type == "send_email" for b in result.blocked
    )
    assert {a.action_type for a in result.actions} <= {
        "merge_contacts",
        "apply_enrichment",
        "crm_unsubscribe",
        "escalate_renewal",
    }


def test_an_unsubscribe_reply_suppresses_in_the_same_refresh(engine):
    world = busy_world()
    # gc-1 replied positively an hour ago, then asked to be removed half an hour later.
    world.replies = pl.concat(
        [world.replies, inputs(replies=[reply("e-9", "gc-1", "unsubscribe", hours_ago=0.5)]).replies]
    )
    result = _plan(engine, world)
    entries = SuppressionList(engine).entries(value="p1@acme1.com")
    assert [(e["reason"], e["source"]) for e in entries] == [("unsubscribe", "ml.reply_classifications e-9")]
    mine = _by_target(result)["gc-1"]
    assert [a.action_type for a in mine] == ["crm_unsubscribe"]
    assert any(b.proposal.target.id == "gc-1" and b.rule == "suppression" for b in result.blocked)


def test_open_actions_are_withdrawn_when_their_evidence_changes(engine):
    _plan(engine, busy_world(), "r1")
    queue = DecisionQueue(engine, POLICY)
    # gc-1 unsubscribes by email; gc-5 finally gets a call from the owner; gc-3's tier drops; gc-2 is merged away.
    world = busy_world_an_hour_later()
    result = _plan(engine, world, "r2")
    reasons = {queue.get(i).target_id + "/" + queue.get(i).action_type: why for i, why in result.withdrawals}
    assert "now suppressed" in reasons["gc-1/create_task"]
    assert "first touch logged" in reasons["gc-5/sla_escalation"] and "Derek Mills" in reasons["gc-5/sla_escalation"]
    assert "no longer exists" in reasons["gc-2/set_follow_up_date"]
    for action_id, _ in result.withdrawals:
        assert queue.get(action_id).state == State.WITHDRAWN
        assert queue.events(action_id)[-1]["note"].startswith("Withdrawn:")


def test_sla_breach_is_escalated_once_then_rerouted(engine):
    world = busy_world()
    first = _plan(engine, world, "r1")
    escalations = [a for a in first.actions if a.action_type == "sla_escalation"]
    assert [a.target.id for a in escalations] == ["gc-5"]
    assert escalations[0].payload["assignee"] == "Derek Mills"
    # An hour later: still breached, not escalated again, not yet re-routed.
    later = busy_world()
    later.as_of = AS_OF + timedelta(hours=1)
    second = _plan(engine, later, "r2")
    assert not [a for a in second.actions if a.workflow == Workflow.SLA and a.target.id == "gc-5"]
    # A day after the escalation and still untouched: re-routed to another rep of the territory, once.
    much_later = busy_world()
    much_later.as_of = AS_OF + timedelta(hours=POLICY.sla.reroute_after_hours + 1)
    third = _plan(engine, much_later, "r3")
    reroutes = [a for a in third.actions if a.workflow == Workflow.SLA and a.target.id == "gc-5"]
    assert [a.action_type for a in reroutes] == ["assign_owner"]
    assert reroutes[0].payload["new_owner"] != "Derek Mills"
    assert POLICY.territory_of_owner()[reroutes[0].payload["new_owner"]].startswith("NA-")
    fourth = _plan(engine, much_later, "r4")
    assert not [a for a in fourth.actions if a.workflow == Workflow.SLA and a.target.id == "gc-5"]


def test_routing_follows_territory_and_load():
    world = busy_world()
    result = plan(world, POLICY, StoreView.read(open_store("sqlite://"), POLICY, utc_now()), utc_now(), "r")
    routed = {a.target.id: a for a in result.actions if a.workflow == Workflow.LEAD_ROUTING}
    # gc-3 in France owned by an NA-West rep -> the France-Benelux rep with less open work.
    assert routed["gc-3"].payload == {
        "new_owner": "Pieter de Wit",
        "previous_owner": "Alice Carter",
        "territory": "France-Benelux",
    }
    # gc-4 in Great Britain with no owner -> the UK-IE rep with no open deals and fewest contacts.
    assert routed["gc-4"].payload["new_owner"] == "Liam O'Neill"
    assert set(routed) == {"gc-3", "gc-4"}, "contacts owned inside their territory are left alone"
    picker = OwnerPicker(world.owner_load)
    picks = [picker.pick(["Jack Thompson", "Katie Morgan", "Liam O'Neill"]) for _ in range(6)]
    assert picks.count("Jack Thompson") >= 2 and picks.count("Liam O'Neill") >= 2, picks


def test_owner_change_on_a_contact_with_an_open_deal_needs_approval():
    world = busy_world()
    world.contacts = world.contacts.with_columns(
        open_deal_count=pl.when(pl.col("golden_contact_id") == "gc-3").then(pl.lit(2)).otherwise(pl.lit(0))
    )
    result = plan(world, POLICY, StoreView.read(open_store("sqlite://"), POLICY, utc_now()), utc_now(), "r")
    change = next(a for a in result.actions if a.target.id == "gc-3")
    assert change.risk_class == RiskClass.APPROVE and change.approver_group == "sales_managers"
    assert any(v.rule == "escalations.owner_change_with_open_deal" for v in change.policy_verdicts)


def test_reply_classes_route_to_their_next_step():
    people = [contact(f"gc-{i}", "Alice Carter", "US") for i in range(1, 7)]
    texts = ["Yes!", "maybe", "no", "try Chloé Cruz, she runs RevOps", "lawyer", "???"]
    classes = ["positive", "positive", "not_now", "wrong_person_referral", "compliance_threat", "needs_human"]
    confidence = [0.95, 0.5, 0.9, 0.9, 0.9, 0.4]
    world = inputs(
        people,
        [
            reply(f"e-{i}", f"gc-{i}", c, 2, conf)
            for i, (c, conf) in enumerate(zip(classes, confidence, strict=True), 1)
        ],
        [trigger(f"e-{i}", f"gc-{i}", "Alice Carter", 2, t) for i, t in enumerate(texts, 1)],
    )
    result = plan(world, POLICY, StoreView.read(open_store("sqlite://"), POLICY, utc_now()), utc_now(), "r")
    routes = {a.target.id: a for a in result.actions if a.workflow == Workflow.REPLY_ROUTING}
    assert routes["gc-1"].action_type == "create_task"
    assert routes["gc-2"].action_type == "escalate_reply", "uncertain positives go to a person"
    assert (
        routes["gc-3"].payload["follow_up_date"] == (AS_OF - timedelta(hours=2) + timedelta(days=90)).date().isoformat()
    )
    assert routes["gc-4"].action_type == "add_referred_contact" and routes["gc-4"].risk_class == RiskClass.APPROVE
    assert (routes["gc-4"].payload["first_name"], routes["gc-4"].payload["last_name"]) == ("Chloé", "Cruz")
    assert routes["gc-5"].payload["assignee"] == "revops" and routes["gc-5"].payload["automated_reply"] is False
    assert routes["gc-6"].payload["assignee"] == "Alice Carter"
    assert not [a for a in result.actions if "reply" in a.action_type and a.action_type != "escalate_reply"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("I'm not the right person for this - try Chloé Cruz, she runs RevOps.", ("Chloé", "Cruz")),
        ("You want to talk to Omar de la Vega, our Head of Sales Ops.", ("Omar", "de la Vega")),
        ("This would be Maria Gonzalez's call, not mine.", ("Maria", "Gonzalez")),
        ("Not my area, sorry.", None),
    ],
)
def test_referred_names(text, name):
    assert referred_name(text, "Acme Inc.") == name


def _send(golden_id: str, n: int) -> Proposal:
    target = contact_target(contact(golden_id, "Alice Carter", "US"))
    return Proposal(
        workflow=Workflow.REPLY_ROUTING,
        action_type="send_email",
        target=target.model_copy(update={"account_id": "ga-shared"}),
        payload={"subject": f"hello {n}", "body": "..."},
        reasons=["test"],
        evidence=[EvidenceRow(source_table="t", key=str(n), field="f", value=1)],
        evidence_window=str(n),
    )


def test_the_weekly_cap_holds_across_the_workflows_of_one_run():
    # Each workflow is classified in turn with the run's one context: the second sees the first's touches.
    empty = SuppressionSnapshot({}, {}, {}, {})
    cap = POLICY.caps.per_account_weekly_touches
    context = GuardrailContext(empty, {"ga-shared": 1})
    first, _ = classify([_send(f"gc-{n}", n) for n in range(1, 3)], POLICY, context, AS_OF, utc_now())
    second, blocked = classify([_send(f"gc-{n}", n) for n in range(3, 3 + cap)], POLICY, context, AS_OF, utc_now())
    assert len(first) == 2 and len(second) == cap - 3
    assert len(blocked) == 3 and context.touches_this_week["ga-shared"] == cap


def test_caps_and_customer_facing_sends_need_a_person():
    empty = SuppressionSnapshot({}, {}, {}, {})
    proposals = [_send(f"gc-{n}", n) for n in range(1, 9)]
    cap = POLICY.caps.per_account_weekly_touches
    actions, blocked = classify(proposals, POLICY, GuardrailContext(empty, {"ga-shared": 2}), AS_OF, utc_now())
    assert len(actions) == cap - 2 and len(blocked) == len(proposals) - (cap - 2)
    assert {b.rule for b in blocked} == {"caps.per_account_weekly_touches"}
    assert all(a.risk_class == RiskClass.APPROVE for a in actions)
    # A policy that marks sends auto still gets a person unless it names them in auto_customer_facing.
    text = Path(POLICY.path).read_text()
    lenient = parse_policy(text.replace("  send_email: approve", "  send_email: auto"), "lenient.yml")
    actions, _ = classify(proposals[:1], lenient, GuardrailContext(empty), AS_OF, utc_now())
    assert actions[0].risk_class == RiskClass.APPROVE
    assert any(v.rule == "customer_facing" for v in actions[0].policy_verdicts)
    allowed = parse_policy(
        text.replace("auto_customer_facing: []", "auto_customer_facing: [send_email]").replace(
            "  send_email: approve", "  send_email: auto"
        ),
        "allowed.yml",
    )
    actions, _ = classify(proposals[:1], allowed, GuardrailContext(empty), AS_OF, utc_now())
    assert actions[0].risk_class == RiskClass.AUTO


def test_each_action_carries_its_verdicts_in_order_the_same_ones_shared():
    empty = SuppressionSnapshot({}, {}, {}, {})
    cap = POLICY.caps.per_account_weekly_touches
    text = Path(POLICY.path).read_text()
    lenient = parse_policy(text.replace("  send_email: approve", "  send_email: auto"), "lenient.yml")
    actions, _ = classify(
        [_send(f"gc-{n}", n) for n in range(1, 4)], lenient, GuardrailContext(empty), AS_OF, utc_now()
    )
    assert len(actions) == 3
    for n, action in enumerate(actions, start=1):
        assert [v.model_dump() for v in action.policy_verdicts] == [
            {"rule": "suppression", "verdict": "pass", "detail": "not on the suppression list"},
            {"rule": "restricted", "verdict": "pass", "detail": "industry and country are not restricted"},
            {
                "rule": "caps.per_account_weekly_touches",
                "verdict": "pass",
                "detail": f"touch {n} of {cap} this week for the account",
            },
            {
                "rule": "risk_classes.send_email",
                "verdict": "approve",
                "detail": f"send_email {ACTION_TYPES['send_email'].does}",
            },
            {
                "rule": "customer_facing",
                "verdict": "approve",
                "detail": "a customer sees it: a person approves it (not listed in auto_customer_facing)",
            },
        ]
    # The verdicts that read the same are one object (frozen), the touch counts each their own.
    first, second = actions[0].policy_verdicts, actions[1].policy_verdicts
    assert all(first[i] is second[i] for i in (0, 1, 3, 4)) and first[2] is not second[2]


def test_policy_diff_writes_nothing(engine):
    _plan(engine, busy_world(), "r1")
    SuppressionList(engine).add(SuppressionEntry("email", "p2@acme2.com", "manual", "test"), added_by="t")

    def snapshot():
        with engine.connect() as con:
            return {
                table: con.exec_driver_sql(f"select * from {table} order by 1").fetchall()
                for table in ("actions", "action_events", "suppressions", "kill_switch_events", "planner_runs")
            }

    before = snapshot()
    text = Path(POLICY.path).read_text()
    stricter = parse_policy(
        text.replace("  assign_owner: auto", "  assign_owner: approve"),
        "candidate.yml",
    )
    diff = compare_policies(busy_world(), POLICY, stricter, StoreView.read(engine, POLICY, utc_now()), utc_now())
    assert {b.action_type for _, b in diff.reclassed} == {"assign_owner"}
    assert all(b.risk_class == RiskClass.APPROVE for _, b in diff.reclassed)
    assert diff.unchanged > 0
    assert snapshot() == before
