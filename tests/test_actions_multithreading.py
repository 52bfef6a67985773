"""W12 multi-threading: thin late-stage deals get two to five more contacts by missing function, spaced over days,
within the per-account weekly cap; suppression first."""

from __future__ import annotations

from datetime import timedelta

from planning_fixtures import AS_OF, contact, frame, inputs, signal

from actions.catalog import RiskClass, Workflow
from actions.inputs import MULTITHREAD_SCHEMA, SIGNAL_SCHEMA
from actions.planner import StoreView, apply_plan, plan
from actions.policy import load_policy
from ops_store.schema import utc_now

POLICY = load_policy()
SETTINGS = POLICY.multithreading
FUNCTIONS = ["executive", "finance", "it", "operations", "sales", "marketing"]


def candidates(deal_id: int, engaged: int, covered: list[str], people: list[tuple[str, str, str]]) -> list[dict]:
    return [
        {
            "deal_id": deal_id,
            "deal_name": f"Deal {deal_id}",
            "owner": "Alice Carter",
            "stage": "contract sent",
            "golden_account_id": "ga-1",
            "engaged_stakeholders": engaged,
            "functions_covered": covered,
            "candidate_golden_contact_id": golden,
            "candidate_function": function,
            "candidate_seniority": seniority,
            "candidate_job_title": None,
        }
        for golden, function, seniority in people
    ]


def world(rows, suppressed=()):
    people = [contact(f"gc-{i}", "Alice Carter", "US", golden_account_id="ga-1") for i in range(1, 13)]
    w = inputs(people)
    w.multithread_candidates = frame(rows, MULTITHREAD_SCHEMA)
    w.suppression_signals = frame([signal(e, "unsubscribe") for e in suppressed], SIGNAL_SCHEMA)
    return w


def _plan(engine, w, run_id="r"):
    now = utc_now()
    result = plan(w, POLICY, StoreView.read(engine, POLICY, now), now=now, run_id=run_id)
    apply_plan(result, engine, POLICY)
    return result


def _mine(result):
    return [a for a in result.actions if a.workflow == Workflow.MULTITHREADING]


def test_missing_functions_get_the_most_senior_contact_spaced_over_days(engine):
    people = [(f"gc-{i}", FUNCTIONS[i % 6], "manager") for i in range(1, 13)] + [("gc-7", "finance", "c_level")]
    rows = candidates(5, 1, ["sales"], people)
    mine = _mine(_plan(engine, world(rows)))
    assert 2 <= len(mine) <= 5
    functions = [a.payload["function"] for a in mine]
    assert "sales" not in functions and len(set(functions)) == len(functions), "one per missing function"
    assert all(a.action_type == "enroll_sequence" and a.risk_class == RiskClass.APPROVE for a in mine)
    starts = [a.payload["start_on"] for a in mine]
    assert starts == sorted(starts) and len(set(starts)) == len(starts), "spaced over days"
    assert starts[0] == AS_OF.date().isoformat()
    assert (AS_OF.date() + timedelta(days=SETTINGS.spacing_days)).isoformat() == starts[1]
    assert not _mine(_plan(engine, world(rows), "r2")), "one proposal per deal and contact"


def test_within_the_per_account_weekly_cap(engine):
    cap = POLICY.caps.per_account_weekly_touches
    rows = []
    for deal in range(1, 4):  # three thin deals at one account want more touches than the cap allows
        rows += candidates(deal, 0, [], [(f"gc-{deal * 3 + k}", FUNCTIONS[k], "vp") for k in range(3)])
    result = _plan(engine, world(rows))
    assert len(_mine(result)) == cap
    assert {b.rule for b in result.blocked if b.proposal.workflow == Workflow.MULTITHREADING} == {
        "caps.per_account_weekly_touches"
    }


def test_engaged_deals_and_suppressed_contacts_get_nothing(engine):
    rows = candidates(7, 2, [], [("gc-1", "finance", "vp"), ("gc-2", "it", "vp")])
    assert not _mine(_plan(engine, world(rows)))
    thin = candidates(8, 0, [], [("gc-3", "finance", "vp"), ("gc-4", "it", "vp")])
    result = _plan(engine, world(thin, suppressed=["p3@acme3.com"]), "r2")
    assert [a.target.id for a in _mine(result)] == ["gc-4"]


def test_customer_facing_workflows_share_the_weekly_cap_in_one_run(engine):
    from planning_fixtures import customer_world, risk

    cap = POLICY.caps.per_account_weekly_touches
    w = customer_world(risk("ga-8", 1))
    people = [
        contact(f"gc-{i}", "Alice Carter", "US", golden_account_id="ga-8", first_name="Lee") for i in range(20, 26)
    ]
    w.contacts = w.contacts.vstack(inputs(people).contacts)
    rows = candidates(9, 0, [], [(f"gc-{20 + k}", FUNCTIONS[k], "vp") for k in range(5)])
    w.multithread_candidates = frame([{**r, "golden_account_id": "ga-8"} for r in rows], MULTITHREAD_SCHEMA)
    result = _plan(engine, w)
    facing = [a for a in result.actions if a.customer_facing and a.target.account_id == "ga-8"]
    assert len(facing) == cap, "the at-risk email and the new threads count against one cap"
    assert any(b.rule == "caps.per_account_weekly_touches" for b in result.blocked)
