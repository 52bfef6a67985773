"""The hourly planner's cheaper parts give what the plain versions gave: the meeting slot search (sorted calendars,
window moments kept per run), the at-risk contact pick (one sort for every account), and withdrawal reasons with
open actions' payload and evidence read only for the actions withdrawn."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

import polars as pl
import sqlalchemy as sa
from planning_fixtures import AS_OF, busy_world, busy_world_an_hour_later, contact

import actions.queue as queue_module
from actions.calendar import COUNTRY_TIME_ZONES, time_zone_of
from actions.inputs import CONTACT_SCHEMA
from actions.planner import StoreView, apply_plan, plan
from actions.policy import load_policy
from actions.queue import PLANNER_ACTOR, DecisionQueue, QueueError
from actions.states import NOT_YET_QUEUED, State
from actions.workflows.at_risk import _pick_contacts
from actions.workflows.meetings import SEARCH_DAYS, SLOT_STEP, UTC_ZONE, BusyTimes, owner_time_zone, propose_slots
from actions.workflows.meetings import slot_fits as plain_slot_fits
from ops_store import open_store
from ops_store.schema import action_events
from ops_store.schema import actions as actions_table

POLICY = load_policy()
SETTINGS = POLICY.meetings


def plain_propose_slots(after, owner_zone, contact_zone, policy, busy):
    """The search as it was: every moment of two weeks, each checked against every meeting."""
    length = timedelta(minutes=policy.meetings.length_minutes)
    first = (after.astimezone(UTC_ZONE) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    out = []
    moment = first
    while moment < first + timedelta(days=SEARCH_DAYS) and len(out) < policy.meetings.slots_per_proposal:
        if (not out or moment.astimezone(contact_zone).date() != out[-1][0].astimezone(contact_zone).date()) and (
            plain_slot_fits(moment, moment + length, owner_zone, contact_zone, policy, busy)
        ):
            out.append((moment, moment + length))
        moment += SLOT_STEP
    return out


def test_busy_times_answer_what_a_scan_of_every_meeting_answers():
    rng = random.Random(11)
    base = datetime(2026, 11, 2, tzinfo=UTC)
    for _ in range(300):
        intervals = []
        for _ in range(rng.randint(0, 30)):
            start = base + timedelta(minutes=15 * rng.randint(0, 400))
            # mostly short meetings, some all-day or multi-day blocks (the search must look back far enough)
            minutes = rng.choice([15, 30, 60, 90, 60 * 24, 60 * 72, 0])
            intervals.append((start, start + timedelta(minutes=minutes)))
        busy = BusyTimes(intervals[: len(intervals) // 2])
        busy.extend(intervals[len(intervals) // 2 :])
        assert len(busy) == len(intervals)
        for _ in range(40):
            low = base + timedelta(minutes=15 * rng.randint(-20, 420))
            high = low + timedelta(minutes=rng.choice([15, 45, 60, 75]))
            expected = all(high <= s or low >= e for s, e in intervals)
            assert busy.clear_of(low, high) == expected, (low, high, intervals)


def test_the_slot_search_finds_the_slots_the_plain_search_finds():
    rng = random.Random(5)
    owners = [o for t in POLICY.routing.territories.values() for o in t.owners]
    windows: dict = {}  # shared across requests, as within one planning run
    for _ in range(150):
        owner = rng.choice(owners)
        after = AS_OF + timedelta(hours=rng.choice([0, 5, 13, 30]), minutes=rng.choice([0, 7, 30]))
        meetings = []
        for _ in range(rng.randint(0, 120)):
            start = after + timedelta(hours=rng.randint(0, 24 * 15), minutes=rng.choice([0, 15, 30, 45]))
            meetings.append((start, start + timedelta(minutes=rng.choice([30, 45, 60, 90, 600, 60 * 26]))))
        plain_busy = list(meetings)
        fast_busy = BusyTimes(meetings)
        owner_zone = owner_time_zone(POLICY, owner)
        # several requests for the same owner: each one's slots are busy for the next
        for _ in range(rng.randint(1, 4)):
            contact_zone = time_zone_of(rng.choice([*COUNTRY_TIME_ZONES, "ZZ"]))
            expected = plain_propose_slots(after, owner_zone, contact_zone, POLICY, plain_busy)
            got = propose_slots(after, owner_zone, contact_zone, POLICY, fast_busy, windows)
            assert got == expected, (owner, contact_zone, after)
            assert propose_slots(after, owner_zone, contact_zone, POLICY, plain_busy) == expected
            plain_busy.extend(expected)
            fast_busy.extend(got)
            assert len(fast_busy) == len(plain_busy)


def _plain_pick(contacts: pl.DataFrame):
    """The per-account pick as it was: filter the account's contacts, sort, take the first."""
    usable = contacts.filter(
        pl.col("email").is_not_null()
        & ~pl.col("is_crm_unsubscribed").fill_null(False)
        & ~pl.col("is_junk").fill_null(False)
    )
    if usable.is_empty():
        return None
    return usable.sort(["combined_score", "golden_contact_id"], descending=[True, False], nulls_last=True).row(
        0, named=True
    )


def test_the_at_risk_contact_pick_is_the_per_account_pick():
    rng = random.Random(8)
    rows = []
    for n in range(1, 600):
        rows.append(
            contact(
                f"gc-{rng.randint(1, 10**6) * 1000 + n}",
                "Marta Schulz",
                "DE",
                golden_account_id=rng.choice([f"ga-{rng.randint(1, 60)}", None]),
                email=rng.choice([f"p{n}@x.com", f"p{n}@x.com", None]),
                combined_score=rng.choice([None, float("nan"), 10.0, 55.5, 80.0, rng.random() * 100]),
                is_crm_unsubscribed=rng.choice([False, False, True, None]),
                is_junk=rng.choice([False, False, True, None]),
            )
        )
    frame = pl.DataFrame(rows, schema=CONTACT_SCHEMA, orient="row")
    picked = _pick_contacts(frame)
    accounts = {r["golden_account_id"] for r in rows if r["golden_account_id"] is not None}
    for account in sorted(accounts):
        expected = _plain_pick(frame.filter(pl.col("golden_account_id") == account))
        got = picked.get(account)
        if expected is None:
            assert got is None, account
        else:
            assert got is not None and got["golden_contact_id"] == expected["golden_contact_id"], account
            assert got.keys() == expected.keys()
    assert set(picked) <= accounts


def test_withdrawal_reasons_are_the_same_when_payload_and_evidence_are_read_only_for_withdrawn_actions(engine):
    now = datetime.now(UTC)
    first = plan(busy_world(), POLICY, StoreView.read(engine, POLICY, now), now=now, run_id="r1")
    apply_plan(first, engine, POLICY)
    # The next hour: a suppression, a first touch, a tier change and a contact merged away (each a reason in words
    # built from the action's evidence or payload).
    world = busy_world_an_hour_later()
    lazy = StoreView.read(engine, POLICY, now)
    assert lazy.open_action_details is not None
    assert all("payload" not in a.row and "evidence" not in a.row for a in lazy.open_actions)
    # The store as the planner read it before: every open action whole, nothing read later.
    whole = dataclasses.replace(
        lazy, open_actions=list(DecisionQueue(engine, POLICY).iter_open()), open_action_details=None
    )
    late = plan(world, POLICY, lazy, now=now, run_id="r2")
    early = plan(world, POLICY, whole, now=now, run_id="r2")
    assert late.withdrawals and late.withdrawals == early.withdrawals
    reasons = " ".join(why for _, why in late.withdrawals)
    assert "first touch logged" in reasons and "no longer exists" in reasons
    assert [a.action_id for a in late.actions] == [a.action_id for a in early.actions]


def _store_rows(engine):
    """Every action and audit event, without the moments that differ between two runs."""
    with engine.connect() as con:
        rows = [
            {k: v for k, v in r.items() if k not in ("updated_at", "decided_at")}
            for r in con.execute(sa.select(actions_table).order_by(actions_table.c.action_id)).mappings()
        ]
        events = [
            {k: v for k, v in r.items() if k not in ("event_id", "at", "decided_at")}
            for r in con.execute(sa.select(action_events).order_by(action_events.c.event_id)).mappings()
        ]
    return rows, events


def test_batched_expiry_and_withdrawals_write_what_one_at_a_time_wrote(tmp_path, monkeypatch):
    now = datetime.now(UTC)
    later = now + timedelta(days=30)
    stores = []
    for name in ("one_at_a_time", "batched"):
        engine = open_store(f"sqlite:///{tmp_path / name}.sqlite")
        result = plan(busy_world(), POLICY, StoreView.read(engine, POLICY, now), now=now, run_id="r1")
        apply_plan(result, engine, POLICY)
        queue = DecisionQueue(engine, POLICY, clock=lambda: now)
        ids = sorted(a.action_id for a in queue.list(limit=None))
        # People decided some meanwhile: a rejected one cannot expire or be withdrawn.
        proposed = [a for a in queue.list(states=[State.PROPOSED.value], limit=None)]
        queue.transition(proposed[0].action_id, State.REJECTED, actor="policy")
        stores.append((engine, ids))
    (plain, ids), (batched, same_ids) = stores
    assert ids == same_ids and len(ids) > 8
    # Withdrawals: half the actions (one rejected, one unknown id among them).
    withdrawals = [(i, f"Withdrawn: reason {n}.") for n, i in enumerate([*ids[::2], "no-such-action"])]
    withdrawn_plain = 0
    queue = DecisionQueue(plain, POLICY, clock=lambda: later)
    for action_id, reason in withdrawals:  # as `apply_plan` withdrew before
        try:
            queue.withdraw(action_id, reason)
            withdrawn_plain += 1
        except QueueError:
            continue
    monkeypatch.setattr(queue_module, "_IN_CHUNK", 3)  # several batches
    assert DecisionQueue(batched, POLICY, clock=lambda: later).withdraw_many(withdrawals) == withdrawn_plain
    # Expiry a month on: everything still open lapses.
    monkeypatch.setattr(queue_module, "_IN_CHUNK", 500)
    queue = DecisionQueue(plain, POLICY, clock=lambda: later)
    with plain.connect() as con:
        due = (
            con.execute(
                sa.select(actions_table.c.action_id).where(
                    actions_table.c.state.in_([s.value for s in NOT_YET_QUEUED]), actions_table.c.expires_at < later
                )
            )
            .scalars()
            .all()
        )
    expired_plain = 0
    for action_id in due:  # as `expire_due` expired before
        try:
            queue.transition(action_id, State.EXPIRED, actor=PLANNER_ACTOR, note="nobody decided in time")
            expired_plain += 1
        except QueueError:
            continue
    monkeypatch.setattr(queue_module, "_IN_CHUNK", 3)
    assert DecisionQueue(batched, POLICY, clock=lambda: later).expire_due() == expired_plain > 3
    assert _store_rows(batched) == _store_rows(plain)
    plain.dispose()
    batched.dispose()


def test_routing_and_follow_up_stubs_build_from_their_own_contact_rows():
    """Lead routing and hygiene's follow-up tasks read a few fields of each row for the stub and the whole contact
    row only when a stub is built: every built proposal must carry its own contact's row (target, scores, words),
    as when the whole rows were read up front."""
    from planning_fixtures import frame, inputs

    from actions.inputs import FOLLOW_UP_SCHEMA
    from actions.model import built
    from actions.workflows.common import contact_target
    from actions.workflows.hygiene import _follow_up_tasks
    from actions.workflows.routing import misrouted_contacts, routing_proposals

    rng = random.Random(12)
    owners = [None, "Alice Carter", "Marta Schulz", "Derek Mills", "Nobody Known"]
    people = [
        contact(
            f"gc-{n}",
            rng.choice(owners),
            rng.choice(["US", "DE", "FR", "GB", "JP", "ZZ"]),
            tier=rng.choice([1, 2, 3]),
            golden_account_id=rng.choice([f"ga-{n % 17}", None]),
            contact_name=rng.choice([f"Person {n}", None]),
            score_model_version=f"m-{n}",
        )
        for n in range(1, 400)
    ]
    world = inputs(people)
    world.meeting_follow_ups = frame(
        [
            {
                "meeting_id": m,
                "meeting_name": f"Call {m}",
                "meeting_start_at": AS_OF - timedelta(days=2, hours=m % 9),
                "meeting_end_at": AS_OF - timedelta(days=2, hours=m % 9) + timedelta(minutes=30),
                "owner": rng.choice(owners[1:]),
                "contact_record_id": m,
                "golden_contact_id": rng.choice([f"gc-{rng.randint(1, 450)}", None]),
                "deal_id": None,
                "first_touch_at": None,
                "first_touch_id": None,
                "first_touch_kind": None,
            }
            for m in range(1, 300)
        ],
        FOLLOW_UP_SCHEMA,
    )
    rows = {r["golden_contact_id"]: r for r in world.contacts.iter_rows(named=True)}
    misrouted = {r["golden_contact_id"] for r in misrouted_contacts(world, POLICY).iter_rows(named=True)}
    routed = [built(p) for p in routing_proposals(world, POLICY) if p.target.kind == "contact"]
    assert len(routed) > 50 and {p.target.id for p in routed} <= misrouted
    for proposal in routed:
        row = rows[proposal.target.id]
        assert proposal.target == contact_target(row) and proposal.model_version == row["score_model_version"]
        assert proposal.evidence_window == f"owner={row['contact_owner'] or '-'}|country={row['country_code']}"
    tasks = [built(p) for p in _follow_up_tasks(world, POLICY)]
    assert len(tasks) > 100
    assert all(task.target == contact_target(rows[task.target.id]) for task in tasks)
    owed = {r["golden_contact_id"] for r in world.meeting_follow_ups.iter_rows(named=True)}
    assert {t.target.id for t in tasks} == owed & set(rows), "no owed meeting with a known contact left out"
