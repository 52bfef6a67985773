"""W8 meeting proposals: slots always inside the owner's and the contact's windows and never over the owner's
meetings (checked over many random calendars), multi-attendee replies flagged, nothing without meeting intent."""

from __future__ import annotations

import random
from datetime import timedelta

from planning_fixtures import AS_OF, contact, frame, inputs, reply, signal

from actions.calendar import COUNTRY_TIME_ZONES, time_zone_of
from actions.catalog import RiskClass, Workflow
from actions.inputs import MEETING_REQUEST_SCHEMA, OWNER_CALENDAR_SCHEMA, SIGNAL_SCHEMA
from actions.planner import StoreView, apply_plan, plan
from actions.policy import load_policy
from actions.workflows.meetings import owner_time_zone, propose_slots
from ops_store.schema import utc_now

POLICY = load_policy()
SETTINGS = POLICY.meetings


def request(event_id: str, golden_id: str, text: str, booked: bool = False) -> dict:
    return {
        "event_id": event_id,
        "replied_at": AS_OF - timedelta(hours=3),
        "reply_text": text,
        "contact_record_id": int(golden_id.removeprefix("gc-")),
        "golden_contact_id": golden_id,
        "meeting_booked": booked,
    }


def world(requests, calendar=(), suppressed=(), country="DE"):
    people = [contact(f"gc-{i}", "Marta Schulz", country, first_name=f"Kim{i}") for i in range(1, 6)]
    w = inputs(people, replies=[reply(r["event_id"], r["golden_contact_id"], "positive", 3) for r in requests])
    w.meeting_requests = frame(list(requests), MEETING_REQUEST_SCHEMA)
    w.owner_calendar = frame(list(calendar), OWNER_CALENDAR_SCHEMA)
    w.suppression_signals = frame([signal(e, "unsubscribe") for e in suppressed], SIGNAL_SCHEMA)
    return w


def _plan(engine, w):
    now = utc_now()
    result = plan(w, POLICY, StoreView.read(engine, POLICY, now), now=now, run_id="r")
    apply_plan(result, engine, POLICY)
    return result


def _inside(start, end, window, zone):
    s, e = start.astimezone(zone), end.astimezone(zone)
    return (
        s.date() == e.date() and s.isoweekday() in window.days and window.start <= s.time() and e.time() <= window.end
    )


def test_slots_are_inside_both_windows_and_clear_of_the_owners_meetings_over_random_calendars():
    rng = random.Random(3)
    owners = [o for t in POLICY.routing.territories.values() for o in t.owners]
    for _ in range(200):
        owner = rng.choice(owners)
        country = rng.choice(list(COUNTRY_TIME_ZONES))
        busy = []
        for _ in range(rng.randint(0, 40)):
            start = AS_OF + timedelta(hours=rng.randint(0, 24 * 14), minutes=rng.choice([0, 15, 30, 45]))
            busy.append((start, start + timedelta(minutes=rng.choice([30, 45, 60, 90]))))
        owner_zone, contact_zone = owner_time_zone(POLICY, owner), time_zone_of(country)
        slots = propose_slots(AS_OF, owner_zone, contact_zone, POLICY, busy)
        buffer = timedelta(minutes=SETTINGS.buffer_minutes)
        for start, end in slots:
            assert end - start == timedelta(minutes=SETTINGS.length_minutes)
            assert _inside(start, end, SETTINGS.owner_window, owner_zone), (owner, start)
            assert _inside(start, end, SETTINGS.contact_window, contact_zone), (country, start)
            assert all(end + buffer <= b0 or start - buffer >= b1 for b0, b1 in busy), "overlaps a meeting"
        assert len({s.astimezone(contact_zone).date() for s, _ in slots}) == len(slots), "one slot per day"


def test_a_positive_reply_asking_for_a_meeting_gets_three_slots_for_approval(engine):
    calendar = [
        {
            "owner": "Marta Schulz",
            "meeting_id": 9,
            "meeting_start_at": AS_OF + timedelta(days=2, hours=8),
            "meeting_end_at": AS_OF + timedelta(days=2, hours=10),
        }
    ]
    reqs = [
        request("e-1", "gc-1", "Yes, happy to chat. Tuesday or Wednesday afternoon works for me."),
        request("e-2", "gc-2", "Love the dedupe angle. Loop in my RevOps lead and let's find a time."),
        request("e-3", "gc-3", "Interested. What does pricing look like for a team of our size?"),
        request("e-4", "gc-4", "Sounds interesting. Send me a few times.", booked=True),
    ]
    result = _plan(engine, world(reqs, calendar))
    mine = {a.target.id: a for a in result.actions if a.workflow == Workflow.MEETINGS}
    assert set(mine) == {"gc-1", "gc-2"}, "no meeting intent (gc-3) or already booked (gc-4): nothing"
    first = mine["gc-1"]
    assert first.action_type == "send_email" and first.risk_class == RiskClass.APPROVE
    assert len(first.payload["slots"]) == SETTINGS.slots_per_proposal
    for i in range(1, 4):
        assert first.payload["field_map"][f"slot_{i}"] in first.payload["body"]
    assert not first.payload["needs_attendee_confirmation"]
    assert mine["gc-2"].payload["needs_attendee_confirmation"] and "confirm who attends" in mine["gc-2"].reasons[-1]
    # Two proposals of one owner in one run never offer the same time.
    taken = [s["start"] for a in mine.values() for s in a.payload["slots"]]
    assert len(taken) == len(set(taken))


def test_suppression_overrides_meeting_proposals(engine):
    result = _plan(
        engine, world([request("e-1", "gc-1", "Can we set up 30 minutes next week?")], suppressed=["p1@acme1.com"])
    )
    assert not [a for a in result.actions if a.workflow == Workflow.MEETINGS]
    assert [b.rule for b in result.blocked if b.proposal.workflow == Workflow.MEETINGS] == ["suppression"]
