"""W9 no-show recovery: one reschedule note per missed meeting across many runs, a second no-show goes to the
owner as a task, frustration escalates, the options fall on working days in the contact's time zone."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from planning_fixtures import AS_OF, contact, frame, inputs, reply, signal

from actions.calendar import next_weekday_options
from actions.catalog import RiskClass, Workflow
from actions.inputs import NO_SHOW_SCHEMA, SIGNAL_SCHEMA
from actions.planner import StoreView, apply_plan, plan
from actions.policy import load_policy
from actions.queue import DecisionQueue
from ops_store.schema import utc_now

POLICY = load_policy()


def _plan(engine, world, run_id, now):
    DecisionQueue(engine, POLICY, clock=lambda: now).expire_due()
    result = plan(world, POLICY, StoreView.read(engine, POLICY, now), now=now, run_id=run_id)
    apply_plan(result, engine, POLICY)
    return result


def no_show(
    meeting_id: int,
    golden_id: str,
    earlier: int = 0,
    reply_id: str | None = None,
    text: str | None = None,
    rebooked: bool = False,
) -> dict:
    return {
        "meeting_id": meeting_id,
        "meeting_name": f"Demo {meeting_id}",
        "meeting_start_at": AS_OF - timedelta(days=1),
        "owner": "Marta Schulz",
        "contact_record_id": int(golden_id.removeprefix("gc-")),
        "golden_contact_id": golden_id,
        "deal_id": None,
        "earlier_no_shows": earlier,
        "rebooked": rebooked,
        "latest_reply_event_id": reply_id,
        "latest_reply_at": AS_OF - timedelta(hours=5) if reply_id else None,
        "latest_reply_text": text,
    }


def world(rows, replies=(), suppressed=()):
    people = [contact(f"gc-{i}", "Marta Schulz", "DE", first_name=f"Kim{i}") for i in range(1, 8)]
    w = inputs(people, replies=list(replies))
    w.no_shows = frame(list(rows), NO_SHOW_SCHEMA)
    w.suppression_signals = frame([signal(e, "unsubscribe") for e in suppressed], SIGNAL_SCHEMA)
    return w


def _mine(result):
    return [a for a in result.actions if a.workflow == Workflow.NO_SHOW]


def test_one_reschedule_note_per_meeting_across_many_runs(engine):
    w = world([no_show(1, "gc-1")])
    now = utc_now()
    (first,) = _mine(_plan(engine, w, "r0", now))
    assert first.action_type == "send_email" and first.risk_class == RiskClass.APPROVE
    assert len(first.payload["options"]) == 2 and first.payload["field_map"]["contact_first_name"] == "Kim1"
    for option in first.payload["field_map"]["option_1"], first.payload["field_map"]["option_2"]:
        assert option in first.payload["body"] and "Europe/Berlin" in option
    # Nobody decides it: it expires; later runs (days apart) still never propose a second note for the meeting.
    for day in range(1, 8):
        assert not _mine(_plan(engine, w, f"r{day}", now + timedelta(days=day))), f"day {day}"
    notes = [a for a in DecisionQueue(engine, POLICY).list(limit=50) if a.workflow == "no_show"]
    assert len(notes) == 1


def test_second_no_show_is_a_task_and_frustration_escalates(engine):
    rows = [
        no_show(2, "gc-2", earlier=1),
        no_show(3, "gc-3", reply_id="e-3", text="Honestly this is a waste of time."),
        no_show(4, "gc-4", reply_id="e-4", text="Sure"),
        no_show(5, "gc-5", rebooked=True),
    ]
    replies = [reply("e-4", "gc-4", "objection", hours_ago=5)]
    by_target = {a.target.id: a for a in _mine(_plan(engine, world(rows, replies), "r", utc_now()))}
    assert by_target["gc-2"].action_type == "create_task" and by_target["gc-2"].risk_class == RiskClass.AUTO
    assert by_target["gc-3"].action_type == "escalate_reply" and "waste of time" in by_target["gc-3"].reasons[1]
    assert by_target["gc-4"].action_type == "escalate_reply" and "objection" in by_target["gc-4"].reasons[1]
    assert "gc-5" not in by_target, "already rebooked: nothing to do"
    assert not [a for a in by_target.values() if a.action_type == "send_email"]


def test_suppression_overrides_the_reschedule_note(engine):
    result = _plan(engine, world([no_show(6, "gc-6")], suppressed=["p6@acme6.com"]), "r", utc_now())
    assert not _mine(result)
    assert [b.rule for b in result.blocked if b.proposal.workflow == Workflow.NO_SHOW] == ["suppression"]


def test_options_fall_on_working_days_at_local_hours():
    friday_evening = AS_OF.replace(year=2026, month=10, day=30, hour=20)  # a Friday, UTC
    options = next_weekday_options(friday_evening, "JP", [10, 14], 2, 30)
    tokyo = ZoneInfo("Asia/Tokyo")
    assert [(s.weekday(), s.hour, s.tzinfo) for s, _ in options] == [(0, 10, tokyo), (1, 14, tokyo)]
    assert all(e - s == timedelta(minutes=30) for s, e in options)


def test_options_worked_out_once_per_country_and_phrases_compiled_once(monkeypatch):
    """A reschedule note's options and their words come from the data's clock and the contact's country only:
    `no_show_proposals` works them out once per country a run. Every note must still carry the options a per-row
    computation gives (known zones, an unknown country, none), and the negative phrases still match whole words,
    case-insensitively, with the first phrase of the policy's order named."""
    from actions.calendar import option_words
    from actions.workflows import no_show as w9

    countries = ["DE", "US", "JP", "ZZ", None, "de", "US", "DE", None, "ZZ", "BR", "JP"]
    people = [
        contact(f"gc-{i}", "Marta Schulz", country or "", first_name=f"Kim{i}") | {"country_code": country}
        for i, country in enumerate(countries, start=1)
    ]
    texts = {
        3: "I am ANNOYED and frustrated",
        5: "not interested-ish",
        7: "uninterested",
        9: "a waste of timer",
        11: "Quite ANNOYED.",
    }
    rows = [
        no_show(i, f"gc-{i}", reply_id=f"e-{i}" if i in texts else None, text=texts.get(i))
        for i in range(1, len(countries) + 1)
    ]
    w = inputs(people)
    w.no_shows = frame(rows, NO_SHOW_SCHEMA)
    calls = []
    plain = w9.next_weekday_options
    monkeypatch.setattr(w9, "next_weekday_options", lambda *a: calls.append(a[1]) or plain(*a))
    out = {p.target.id: p for p in w9.no_show_proposals(w, POLICY)}
    emailed = {country for i, country in enumerate(countries, start=1) if i not in (3, 5, 11)}
    assert sorted(calls, key=str) == sorted(emailed, key=str), "once per distinct country of a reschedule note"

    settings = POLICY.no_show
    # The first phrase in the policy's order (frustrated, annoyed, ...) is named, whatever the text's order.
    assert out["gc-3"].action_type == "escalate_reply" and 'says "frustrated"' in out["gc-3"].reasons[1]
    assert out["gc-11"].action_type == "escalate_reply" and 'says "annoyed"' in out["gc-11"].reasons[1]
    assert out["gc-5"].action_type == "escalate_reply" and 'says "not interested"' in out["gc-5"].reasons[1]
    for i, country in enumerate(countries, start=1):
        proposal = out[f"gc-{i}"]
        if i in (3, 5, 11):
            continue
        assert proposal.action_type == "send_email", i  # "uninterested", "waste of timer": not whole words
        options = plain(AS_OF, country, settings.option_hours_local, 2, settings.length_minutes)
        assert proposal.payload["options"] == [{"start": s.isoformat(), "end": e.isoformat()} for s, e in options]
        assert proposal.payload["field_map"]["option_1"] == option_words(options[0][0])
        assert proposal.payload["field_map"]["option_2"] == option_words(options[1][0])
