"""W6 sequence-step drafts: each step of a proposed sequence gets the template of the contact's ICP segment, filled
only with golden-record fields (field map stored); a missing field or banned content blocks it with the rule; Tier 1
drafts always need review; only for enrolments in the queue, capped per owner per day; the policy refuses segment
templates that ask for fields the golden record cannot hold."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest
from planning_fixtures import contact, frame, inputs, sequence_candidate, signal

from actions.catalog import RiskClass, Workflow
from actions.inputs import SEQUENCE_CANDIDATE_SCHEMA
from actions.planner import StoreView, apply_plan, plan
from actions.policy import DEFAULT_POLICY_PATH, SEQUENCE_DRAFT_FIELDS, PolicyError, load_policy, parse_policy
from actions.queue import DecisionQueue
from ops_store import open_store
from ops_store.schema import utc_now

POLICY = load_policy()
TEXT = DEFAULT_POLICY_PATH.read_text()


def world(people):
    w = inputs(people)
    w.sequence_candidates = frame(
        [sequence_candidate(p["golden_contact_id"], demo_requests_30d=1) for p in people], SEQUENCE_CANDIDATE_SCHEMA
    )
    return w


def _plan(engine, w, policy=POLICY, run_id="r", now=None):
    now = now or utc_now()
    result = plan(w, policy, StoreView.read(engine, policy, now), now=now, run_id=run_id)
    apply_plan(result, engine, policy)
    return result


def _drafts(result):
    return sorted(
        (a for a in result.actions if a.workflow == Workflow.SEQUENCE_DRAFTS),
        key=lambda a: (a.target.id, a.payload["step"]),
    )


def _blocked(result):
    return [b for b in result.blocked if b.proposal.workflow == Workflow.SEQUENCE_DRAFTS]


def test_each_step_gets_the_template_of_the_contacts_segment(engine):
    people = [
        contact("gc-1", "Alice Carter", "US", first_name="Ana", industry="Computer Software"),
        contact("gc-2", "Alice Carter", "US", first_name="Bo", industry="banking"),
        contact("gc-3", "Alice Carter", "US", first_name="Cy", industry="Retail"),
    ]
    drafts = _drafts(_plan(engine, world(people)))
    chosen = {(a.target.id, a.payload["step"]): (a.payload["segment"], a.payload["template"]) for a in drafts}
    assert chosen == {
        ("gc-1", 1): ("software", "seq_software_1"),
        ("gc-1", 2): ("software", "seq_software_2"),
        ("gc-2", 1): ("financial", "seq_financial_1"),
        ("gc-2", 2): ("financial", "seq_financial_2"),
        ("gc-3", 1): ("general", "seq_general_1"),
        ("gc-3", 2): ("general", "seq_general_2"),
    }
    first = drafts[0]
    assert first.action_type == "send_email" and first.payload["sequence_id"] == "seq-inbound-demo"
    assert first.payload["subject"] == "Acme 1: follow-ups that do not slip"
    assert first.payload["body"].startswith("Hi Ana,") and first.payload["body"].endswith("Alice Carter")
    assert first.payload["due_at"] < drafts[1].payload["due_at"], "step 2 is due days after step 1"
    assert "Retail" in drafts[4].payload["body"], "the catch-all template names the industry the record holds"


def test_without_a_catch_all_segment_an_uncovered_industry_gets_no_draft(engine):
    general = "    - id: general\n      name: Every other industry\n      templates: [seq_general_1, seq_general_2]\n"
    assert general in TEXT
    no_catch_all = parse_policy(TEXT.replace(general, "", 1))
    people = [contact("gc-1", "Alice Carter", "US", first_name="Ana", industry="Retail")]
    result = _plan(engine, world(people), no_catch_all)
    assert not _drafts(result)
    assert [b.rule for b in _blocked(result)] == ["sequence_drafts.no_segment"] * 2
    assert "industry Retail" in _blocked(result)[0].reason


def test_a_missing_field_blocks_every_step_and_names_the_field(engine):
    people = [
        contact("gc-1", "Alice Carter", "US", first_name=None, industry="banking"),
        contact("gc-2", None, "US", first_name="Bo", industry="banking"),
        contact("gc-3", "Alice Carter", "US", first_name="Cy", industry=None),  # catch-all step 1 needs industry
    ]
    result = _plan(engine, world(people))
    assert not _drafts(result)
    blocked = {(b.proposal.target.id, b.proposal.payload["step"]): b for b in _blocked(result)}
    assert len(blocked) == 6 and {b.rule for b in blocked.values()} == {"drafts.missing_field"}
    assert "contact_first_name" in blocked[("gc-1", 1)].reason
    assert "owner_name" in blocked[("gc-2", 2)].reason
    assert "industry" in blocked[("gc-3", 1)].reason and "step 1 is refused" in blocked[("gc-3", 2)].reason
    assert "body" not in blocked[("gc-1", 1)].proposal.payload, "a draft missing a field is not rendered"


BANNED = [(claim, "content.banned_claims") for claim in POLICY.content.banned_claims] + [
    (phrase, f"content.banned_topics: {topic}")
    for topic, phrases in POLICY.content.topic_phrase_map().items()
    for phrase in [topic, *phrases]
]


@pytest.mark.parametrize(("phrase", "rule"), BANNED)
def test_each_banned_claim_and_topic_blocks_the_draft_with_its_rule(engine, phrase, rule):
    # A record value is the only way text the templates do not hold reaches a draft: the check runs on the result.
    people = [contact("gc-1", "Alice Carter", "US", first_name="Ana", company_name=f"{phrase} Ltd")]
    result = _plan(engine, world(people))
    assert not _drafts(result)
    assert {b.rule for b in _blocked(result)} == {rule}
    assert any(phrase in b.reason for b in _blocked(result))


def test_tier_1_drafts_are_reviewed_even_when_one_to_one_emails_are_automatic(engine):
    people = [
        contact("gc-1", "Alice Carter", "US", tier=1, first_name="Ana"),
        contact("gc-2", "Alice Carter", "US", tier=2, first_name="Bo"),
    ]
    by_default = _drafts(_plan(engine, world(people)))
    assert len(by_default) == 4 and {a.risk_class for a in by_default} == {RiskClass.APPROVE}
    assert {a.approver_group for a in by_default} == {"owner"}
    automatic = parse_policy(
        TEXT.replace("auto_customer_facing: []", "auto_customer_facing: [send_email]", 1).replace(
            "  send_email: approve", "  send_email: auto", 1
        )
    )
    drafts = _drafts(_plan(open_store("sqlite://"), world(people), automatic))
    classes = {(a.target.id, a.payload["step"]): a.risk_class for a in drafts}
    assert classes == {
        ("gc-1", 1): RiskClass.APPROVE,
        ("gc-1", 2): RiskClass.APPROVE,
        ("gc-2", 1): RiskClass.AUTO,
        ("gc-2", 2): RiskClass.AUTO,
    }
    tier1 = next(a for a in drafts if a.target.id == "gc-1")
    assert any(v.rule == "escalations.tier1_draft" and v.verdict == "raised" for v in tier1.policy_verdicts)


def test_the_field_map_covers_every_substituted_token_over_many_records(engine):
    rng = random.Random(6)
    names = ["Ana", "Bo", "Chloé", "D'Arcy", "Eun-ji", "{{ owner_name }}", "Li", "Zoë"]
    industries = ["computer software", "Banking", "retail", "Staffing and Recruiting", "e-learning", "Insurance"]
    people = [
        contact(
            f"gc-{i}",
            ["Alice Carter", "Ben Ortiz", "Chloe Nguyen", "Derek Mills"][i % 4],  # 20 drafts each: the daily cap
            "US",
            tier=rng.choice([1, 2]),
            first_name=rng.choice(names),
            company_name=f"{rng.choice(['Nimbus', 'Orbit', 'Pine & Co'])} {i}",
            industry=rng.choice(industries),
        )
        for i in range(1, 41)
    ]
    by_id = {p["golden_contact_id"]: p for p in people}
    drafts = _drafts(_plan(engine, world(people)))
    assert len(drafts) == 80
    for a in drafts:
        template = POLICY.drafts.templates[a.payload["template"]]
        field_map = a.payload["field_map"]
        for name, value in field_map.items():  # every value is the record's own
            assert value == str(by_id[a.target.id][SEQUENCE_DRAFT_FIELDS[name]]).strip()
        for part in ("subject", "body"):  # template text with each placeholder swapped for its mapped value
            expected = re.sub(
                r"\{\{\s*(\w+)\s*\}\}", lambda m, values=field_map: values[m.group(1)], getattr(template, part)
            )
            assert a.payload[part] == expected.strip()


def test_end_to_end_only_for_queued_enrolments_once_and_withdrawn_when_the_enrolment_is_rejected(engine):
    people = [contact(f"gc-{i}", "Alice Carter", "US", first_name=f"P{i}") for i in (1, 2)]
    first = _plan(engine, world(people))
    assert len(_drafts(first)) == 4
    assert not _drafts(_plan(engine, world(people), run_id="r2")), "one draft per contact, sequence and step"
    queue = DecisionQueue(engine, POLICY)
    shown = queue.get(_drafts(first)[0].action_id)
    assert shown.payload["field_map"]["contact_first_name"] == "P1" and shown.payload["body"].startswith("Hi P1,")
    enrolment = next(a for a in first.actions if a.workflow == Workflow.SEQUENCES and a.target.id == "gc-1")
    queue.reject(enrolment.action_id, "Rita Ops", note="not this one")
    third = _plan(engine, world(people), run_id="r3")
    withdrawn = {action_id for action_id, _ in third.withdrawals}
    assert withdrawn == {a.action_id for a in _drafts(first) if a.target.id == "gc-1"}


def test_a_sequence_goes_out_whole_under_the_weekly_account_cap(engine):
    # Two prospects at one account: 2 enrolments + 2 steps each would be 6 touches; the cap is 5.
    people = [contact(f"gc-{i}", "Alice Carter", "US", first_name=f"P{i}", golden_account_id="ga-1") for i in (1, 2)]
    result = _plan(engine, world(people))
    assert POLICY.caps.per_account_weekly_touches == 5
    assert {(a.target.id, a.payload["step"]) for a in _drafts(result)} == {("gc-1", 1), ("gc-1", 2)}
    refused = _blocked(result)
    assert {(b.proposal.target.id, b.proposal.payload["step"]) for b in refused} == {("gc-2", 1), ("gc-2", 2)}
    assert {b.rule for b in refused} == {"caps.per_account_weekly_touches"}


def _policy(owner_cap: int, enrolments_per_day: int):
    return parse_policy(
        TEXT.replace("  max_new_per_owner_per_day: 20", f"  max_new_per_owner_per_day: {owner_cap}", 1).replace(
            "  max_new_per_day: 100", f"  max_new_per_day: {enrolments_per_day}", 1
        )
    )


def test_drafts_wait_for_their_enrolment(engine):
    people = [contact(f"gc-{i}", "Alice Carter", "US", first_name=f"P{i}") for i in range(1, 6)]
    result = _plan(engine, world(people), _policy(owner_cap=100, enrolments_per_day=3))
    enrolled = {a.target.id for a in result.actions if a.workflow == Workflow.SEQUENCES}
    assert len(enrolled) == 3 and {a.target.id for a in _drafts(result)} == enrolled
    assert result.deferred[Workflow.SEQUENCE_DRAFTS] == 4, "the 2 enrolments left for tomorrow keep their drafts"
    suppressed = inputs(
        [contact("gc-9", "Alice Carter", "US", first_name="Jo")], signals=[signal("p9@acme9.com", "unsubscribe")]
    )
    suppressed.sequence_candidates = frame([sequence_candidate("gc-9", demo_requests_30d=1)], SEQUENCE_CANDIDATE_SCHEMA)
    blocked = _blocked(_plan(open_store("sqlite://"), suppressed))
    assert [b.rule for b in blocked] == ["suppression", "suppression"]
    assert all("its sequence enrolment is blocked" in b.reason for b in blocked)


def test_new_drafts_are_capped_per_owner_per_day_whole_sequences_at_a_time(engine):
    people = [contact(f"gc-{i}", "Alice Carter", "US", first_name=f"P{i}") for i in range(1, 4)]
    people.append(contact("gc-4", "Ben Ortiz", "US", first_name="P4"))
    capped = _policy(owner_cap=5, enrolments_per_day=100)
    result = _plan(engine, world(people), capped)
    per_owner = Counter(a.owner for a in _drafts(result))
    assert per_owner == {"Alice Carter": 4, "Ben Ortiz": 2}, "two whole sequences fit in 5, not a third step"
    assert result.deferred[Workflow.SEQUENCE_DRAFTS] == 2
    assert not _drafts(_plan(engine, world(people), capped, run_id="r2")), "Alice's day is full"


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (
            "        Hi {{ contact_first_name }},\n\n        Software teams",
            "        Hi {{ job_title }},\n\n        Software teams",
            "uses 'job_title', which the golden record does not hold",
        ),
        (
            "      templates: [seq_financial_1, seq_financial_2]",
            "      templates: [seq_financial_1]",
            "has 1 templates for 2 steps",
        ),
        (
            "      templates: [seq_services_1, seq_services_2]",
            "      templates: [seq_services_1, seq_services_9]",
            "'seq_services_9' is not a template",
        ),
    ],
)
def test_the_policy_refuses_segment_templates_it_cannot_fill(old, new, words):
    assert old in TEXT
    with pytest.raises(PolicyError) as caught:
        parse_policy(TEXT.replace(old, new, 1), "candidate.yml")
    assert any(words in message and line > 0 for line, message in caught.value.problems), caught.value.problems
