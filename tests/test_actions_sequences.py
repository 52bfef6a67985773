"""W5 sequence selection: the catalogue's sequence for the strongest signal, with why and a confidence; below the
floor nothing is proposed and the metrics say so; never for customers or suppressed contacts; a daily cap."""

from __future__ import annotations

from planning_fixtures import contact, frame, inputs, sequence_candidate, signal

from actions.catalog import RiskClass, Workflow
from actions.inputs import SEQUENCE_CANDIDATE_SCHEMA, SIGNAL_SCHEMA
from actions.planner import StoreView, apply_plan, plan
from actions.policy import load_policy
from ops_store.schema import utc_now

POLICY = load_policy()


def world(candidates, people=None, suppressed=()):
    people = people or [contact(f"gc-{i}", "Alice Carter", "US", tier=1 + i % 3) for i in range(1, 9)]
    w = inputs(people)
    w.sequence_candidates = frame(list(candidates), SEQUENCE_CANDIDATE_SCHEMA)
    w.suppression_signals = frame([signal(e, "unsubscribe") for e in suppressed], SIGNAL_SCHEMA)
    return w


def _plan(engine, w, run_id="r"):
    now = utc_now()
    result = plan(w, POLICY, StoreView.read(engine, POLICY, now), now=now, run_id=run_id)
    apply_plan(result, engine, POLICY)
    return result


def _mine(result):
    return {a.target.id: a for a in result.actions if a.workflow == Workflow.SEQUENCES}


def test_the_strongest_signal_picks_the_sequence_with_why_and_confidence(engine):
    rows = [
        sequence_candidate("gc-3", demo_requests_30d=1, pricing_visits_30d=1),
        sequence_candidate(
            "gc-4", tool_installs_30d=1, tool_install_signal_id="s-9", tool_install_detail="Installed Outreach"
        ),
    ]
    mine = _mine(_plan(engine, world(rows)))
    demo = mine["gc-3"]
    assert demo.action_type == "enroll_sequence" and demo.risk_class == RiskClass.APPROVE
    assert demo.payload["signal"] == "demo_request" and demo.payload["sequence_id"] == "seq-inbound-demo"
    assert 0 < demo.payload["confidence"] <= 1 and "1 demo requests" in demo.reasons[0]
    assert {e.field: e.value for e in demo.evidence}["demo_requests_30d"] == 1
    tool = mine["gc-4"]
    assert ("staging.stg_signals__signals", "s-9") in {(e.source_table, e.key) for e in tool.evidence}
    assert not _mine(_plan(engine, world(rows), "r2")), "one proposal per contact and sequence"


def test_below_the_confidence_floor_nothing_is_sent_and_the_metrics_say_so(engine):
    # A tier-3 contact with one product event: a weak match.
    people = [contact("gc-1", "Alice Carter", "US", tier=3)]
    result = _plan(engine, world([sequence_candidate("gc-1", product_events_30d=1)], people=people))
    assert not _mine(result)
    assert result.summary()["blocked_by_rule"] == {"sequences.confidence_floor": 1}


def test_never_for_customers_or_suppressed_contacts(engine):
    people = [
        contact("gc-1", "Alice Carter", "US", tier=1, is_customer_account=True),
        contact("gc-2", "Alice Carter", "US", tier=1),
    ]
    result = _plan(
        engine, world([sequence_candidate(g, demo_requests_30d=2) for g in ("gc-1", "gc-2")], people, ["p2@acme2.com"])
    )
    assert not _mine(result)
    assert [b.rule for b in result.blocked if b.proposal.workflow == Workflow.SEQUENCES] == ["suppression"]


def test_at_most_the_daily_number_of_new_proposals_most_confident_first(engine):
    cap = POLICY.sequences.max_new_per_day
    # cap + 5 contacts outside the sequences holdout group (held-out enrolments take no room: the cap counts what
    # may be sent), and the held-out ones among them.
    treated = [i for i in range(1, 10 * cap) if not POLICY.in_holdout(Workflow.SEQUENCES, f"gc-{i}")][: cap + 5]
    ids = range(1, treated[-1] + 1)
    people = [contact(f"gc-{i}", "Alice Carter", "US", tier=1) for i in ids]
    rows = [sequence_candidate(f"gc-{i}", demo_requests_30d=1 + (i % 2)) for i in ids]
    result = _plan(engine, world(rows, people))
    sendable = [a for a in _mine(result).values() if a.holdout is None]
    waiting = {f"gc-{i}" for i in treated} - set(_mine(result))
    assert len(sendable) == cap and len(waiting) == 5
    assert result.deferred[Workflow.SEQUENCES] == len(ids) - len(_mine(result))
