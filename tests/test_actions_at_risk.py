"""W13 at-risk saves and W6 grounded drafts: the verdict shows its work, drafts hold only the record's values,
a missing field or a banned phrase blocks the draft, and everything a customer would see waits for a person."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from planning_fixtures import AS_OF, customer_world, risk, signal

from actions.catalog import RiskClass, Workflow
from actions.drafts import TemplateError, render_draft, template_fields
from actions.planner import StoreView, apply_plan, plan
from actions.policy import PolicyError, load_policy, parse_policy
from actions.queue import DecisionQueue
from actions.states import State
from ops_store.schema import utc_now
from reverse_etl.sync.requests import build_request

POLICY = load_policy()
TEMPLATE = POLICY.drafts.templates["at_risk_support"]


def _plan(engine, world, run_id="r", policy=POLICY):
    now = utc_now()
    result = plan(world, policy, StoreView.read(engine, policy, now), now=now, run_id=run_id)
    apply_plan(result, engine, policy)
    return result


def test_tier_one_verdict_proposes_a_grounded_draft_and_a_renewal_escalation_for_approval(engine):
    result = _plan(engine, customer_world())
    mine = {a.action_type: a for a in result.actions if a.workflow == Workflow.AT_RISK}
    assert set(mine) == {"send_email", "escalate_renewal"}
    email, escalation = mine["send_email"], mine["escalate_renewal"]
    for action in (email, escalation):
        assert action.risk_class == RiskClass.APPROVE
        # The verdict lists its triggering signals with their numbers, and the rows behind them.
        assert "2 escalated support cases in the last 14 days" in action.reasons[0]
        assert "-35.0%" in action.reasons[0] and "renewal in 40 days" in action.reasons[0]
        tickets = [e for e in action.evidence if e.source_table == "staging.stg_hubspot__tickets"]
        assert {e.key for e in tickets} == {"90000011", "90000012"}
        fields = {e.field: e.value for e in action.evidence if e.source_table == "marts.fct_account_risk"}
        assert fields["risk_tier"] == 1 and fields["usage_change_pct"] == -35.0 and fields["days_to_renewal"] == 40
    assert email.target.id == "gc-8" and email.owner == "Frank Osei" and email.approver_group == "owner"
    assert email.payload["template"] == "at_risk_support"
    assert email.payload["field_map"] == {
        "company_name": "Customer ga-8",
        "contact_first_name": "Pat",
        "renewal_date": "10 December 2026",
        "owner_name": "Frank Osei",
    }
    assert email.payload["body"].startswith("Hi Pat,") and "10 December 2026" in email.payload["body"]
    assert escalation.approver_group == "sales_managers"
    assert escalation.payload["properties"]["hs_priority"] == "high"
    # The sync engine turns the approved escalation into a change of the renewal deal.
    stored = DecisionQueue(engine, POLICY).get(escalation.action_id)
    stored_row = {**stored.row, "state": State.APPROVED.value}
    request = build_request(type(stored)(stored_row))
    assert (request.kind, request.object_type, request.record_id) == ("deal_update", "deals", "75000008")


def test_tiers_decide_what_is_proposed_and_nothing_is_proposed_twice(engine):
    tier2 = customer_world(risk("ga-8", 2))
    first = _plan(engine, tier2)
    assert [a.action_type for a in first.actions if a.workflow == Workflow.AT_RISK] == ["send_email"]
    assert not [a for a in _plan(engine, tier2, "r2").actions if a.workflow == Workflow.AT_RISK]
    watch = _plan(engine, customer_world(risk("ga-8", 3)), "r3")
    assert not [a for a in watch.actions if a.workflow == Workflow.AT_RISK]
    # The tier-2 draft is withdrawn now that the verdict says watch, with the reason.
    assert watch.withdrawals and "risk verdict changed" in watch.withdrawals[0][1]


def test_suppression_overrides_the_at_risk_email(engine):
    world = customer_world()
    world.suppression_signals = customer_world().suppression_signals.vstack(
        _signals([signal("p8@acme8.com", "unsubscribe")])
    )
    result = _plan(engine, world)
    assert not [a for a in result.actions if a.action_type == "send_email"]
    assert [b.rule for b in result.blocked if b.proposal.action_type == "send_email"] == ["suppression"]


def _signals(rows):
    from planning_fixtures import frame

    from actions.inputs import SIGNAL_SCHEMA

    return frame(rows, SIGNAL_SCHEMA)


def test_a_missing_field_blocks_the_draft_and_names_the_field(engine):
    result = _plan(engine, customer_world(first_name=None))
    assert not [a for a in result.actions if a.action_type == "send_email"]
    (blocked,) = [b for b in result.blocked if b.proposal.action_type == "send_email"]
    assert blocked.rule == "drafts.missing_field" and "contact_first_name" in blocked.reason
    no_renewal = _plan(engine, customer_world(risk("ga-8", 1, renewal_date=None)), "r2")
    assert any("renewal_date" in b.reason for b in no_renewal.blocked)


BANNED = [(claim, "content.banned_claims") for claim in POLICY.content.banned_claims] + [
    (phrase, f"content.banned_topics: {topic}")
    for topic, phrases in POLICY.content.topic_phrase_map().items()
    for phrase in [topic, *phrases]
]


@pytest.mark.parametrize(("phrase", "rule"), BANNED)
def test_each_banned_rule_blocks_the_draft(phrase, rule):
    record = {"contact_first_name": "Pat", "company_name": f"Acme ({phrase.upper()})", "renewal_date": "1 May"}
    record["owner_name"] = "Frank Osei"
    draft = render_draft(
        "t", TEMPLATE.subject, TEMPLATE.body, record, POLICY.content.banned_claims, POLICY.content.topic_phrase_map()
    )
    assert draft.blocked and draft.blocked_rule == rule and phrase in draft.blocked_reason


def test_a_banned_phrase_in_the_planner_draft_never_reaches_the_queue(engine):
    world = customer_world()
    world.account_risk = customer_world(risk("ga-8", 1, company_name="Acme, guaranteed results")).account_risk
    result = _plan(engine, world)
    assert not [a for a in result.actions if a.action_type == "send_email"]
    assert any(b.rule == "content.banned_claims" for b in result.blocked)
    assert not [a for a in DecisionQueue(engine, POLICY).list(limit=100) if a.action_type == "send_email"]


def test_every_substituted_token_is_a_field_value():
    """Property test over many records: the draft is the template's own text with each placeholder replaced by
    exactly the record's value — nothing else is added, and a value that looks like a placeholder stays text."""
    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyzÄÖÜéñ -'{}%#"
    placeholder = re.compile(r"\{\{\s*(\w+)\s*\}\}")
    for _ in range(500):
        record = {
            name: "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20))).strip() or "x"
            for name in template_fields(TEMPLATE.subject + TEMPLATE.body)
        }
        if rng.random() < 0.2:
            record["company_name"] = "{{ owner_name }}"
        draft = render_draft("t", TEMPLATE.subject, TEMPLATE.body, record, [], {})
        assert not draft.blocked
        assert draft.field_map == {k: v.strip() for k, v in record.items()}
        values = draft.field_map
        expected = placeholder.sub(lambda m, values=values: values[m.group(1)], TEMPLATE.body).strip()
        assert draft.body == expected


@pytest.mark.parametrize(
    "source",
    [
        "{% for x in y %}{{ x }}{% endfor %}",
        "{{ name|upper }}",
        "{{ name.__class__ }}",
        "{{ lookup('x') }}",
        "{{ a + b }}",
        "{% if a %}yes{% endif %}",
    ],
)
def test_templates_hold_placeholders_only(source):
    with pytest.raises(TemplateError):
        template_fields(source)


def test_the_policy_refuses_a_template_with_code_and_names_its_line():
    text = Path(POLICY.path).read_text(encoding="utf-8")
    bad = text.replace("{{ company_name }}: your open support cases", "{{ company_name|upper }}: your open", 1)
    with pytest.raises(PolicyError) as err:
        parse_policy(bad, "bad.yml")
    assert "at_risk_support subject" in str(err.value) and "filter" in str(err.value)


def test_as_of_is_the_data_time(engine):
    result = _plan(engine, customer_world())
    assert all(a.as_of == AS_OF for a in result.actions)
