"""The planning step's stubs read from columns (issue 14): sequence selection, hygiene's follow-up tasks and deal
flags, and CRM unsubscribes read a few columns of every candidate and a whole row only for a stub built; withdrawals
read each open action's fields from its row. They give what the row-by-row versions gave."""

from __future__ import annotations

import random
from datetime import timedelta

import polars as pl
from planning_fixtures import AS_OF, busy_world, busy_world_an_hour_later, contact, frame, inputs, sequence_candidate
from planning_fixtures import signal as suppression_signal

import actions.workflows.hygiene as hygiene_module
import actions.workflows.sequences as sequences_module
import actions.workflows.suppression as suppression_module
from actions.catalog import ACTION_TYPES, Workflow
from actions.guardrails import Blocked, GuardrailContext
from actions.inputs import FOLLOW_UP_SCHEMA, OPEN_DEAL_SCHEMA, SEQUENCE_CANDIDATE_SCHEMA
from actions.model import built
from actions.planner import StoreView, _merged_snapshot, _withdrawals, apply_plan, plan
from actions.policy import load_policy
from actions.workflows.common import FrameRows, contact_index
from actions.workflows.sequences import SIGNAL_COLUMNS, confidence

POLICY = load_policy()


def _whole_rows(frame: pl.DataFrame) -> list[dict]:
    """Every row read up front, as the workflows read them before (`iter_rows(named=True)`)."""
    return list(frame.iter_rows(named=True))


def _random_frame(rng: random.Random, n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "key": [rng.choice(["a", "b", None, "é"]) for _ in range(n)],
            "count": [rng.choice([0, 1, None, -3]) for _ in range(n)],
            "items": [rng.choice([None, [], ["x", None], ["y"]]) for _ in range(n)],
            "at": [rng.choice([None, AS_OF, AS_OF + timedelta(hours=3)]) for _ in range(n)],
            "flag": [rng.choice([True, False, None]) for _ in range(n)],
        },
        schema={"key": pl.String, "count": pl.Int64, "items": pl.List(pl.String), "at": pl.Datetime("us", "UTC"),
                "flag": pl.Boolean},
    )


def test_frame_rows_give_each_row_as_a_whole_pass_gives_it():
    rng = random.Random(3)
    for _ in range(20):
        frame_ = _random_frame(rng, rng.randint(1, 50))
        expected = _whole_rows(frame_)
        for by_position in (0, 1, 3, 1_000):
            rows = FrameRows(frame_, by_position=by_position)
            positions = list(range(frame_.height)) * 2
            rng.shuffle(positions)
            for position in positions:
                assert rows[position] == expected[position]
                assert list(rows[position]) == list(expected[position])  # the columns in the same order


def _sequence_world(rng: random.Random, n: int):
    people = []
    for i in range(1, n + 1):
        people.append(
            contact(
                f"gc-{i}",
                rng.choice(["Alice Carter", None]),
                "US",
                tier=rng.choice([1, 2, 3, None]),
                is_junk=rng.random() < 0.1,
                is_customer_account=rng.random() < 0.1,
                golden_account_id=rng.choice([f"ga-{i % 7}", None]),
            )
        )
    people += [contact("gc-2", "Bob Stone", "DE", tier=1)]  # gc-2 twice: its last row is the target
    candidates = [
        sequence_candidate(
            f"gc-{rng.randint(1, n + 5)}",  # some without a contact, some listed twice
            tool_installs_30d=rng.choice([0, 1, 3, None]),
            tool_install_signal_id=rng.choice([f"s-{i}", None]),
            tool_install_detail="installed",
            hiring_signals_30d=rng.choice([0, 2, None]),
            demo_requests_30d=rng.choice([0, 1]),
            pricing_visits_30d=rng.choice([0, 2, 6, None]),
            product_events_30d=rng.choice([0, 5, 40]),
        )
        for i in range(1, n + 1)
    ]
    world = inputs(people)
    world.sequence_candidates = pl.DataFrame(candidates, schema=SEQUENCE_CANDIDATE_SCHEMA, orient="row")
    return world


def _row_by_row_choices(world, policy):
    """Sequence selection's choice made row by row, every catalogue entry scored, as before: (score, contact,
    sequence id, signal count) of each candidate with a choice, in the output's order."""
    contacts = contact_index(world.contacts)
    out = []
    for row in world.sequence_candidates.iter_rows(named=True):
        person = contacts.get(row["golden_contact_id"])
        if person is None or person.get("is_junk") or person.get("is_customer_account"):
            continue
        best = None
        for entry in policy.sequences.catalogue:
            count = row[SIGNAL_COLUMNS[entry.signal]] or 0
            if count <= 0:
                continue
            score = confidence(entry, count, person.get("tier"), policy)
            if best is None or score > best[0]:
                best = (score, entry, count)
        if best is not None:
            out.append((best[0], row["golden_contact_id"], best[1].id, best[2]))
    out.sort(key=lambda item: (-item[0], item[1]))
    return out


def _with_catalogue(extra_entries):
    sequences = POLICY.sequences.model_copy(update={"catalogue": [*POLICY.sequences.catalogue, *extra_entries]})
    return POLICY.model_copy(update={"sequences": sequences})


def test_sequence_selection_chooses_and_builds_what_the_row_by_row_choice_gave(monkeypatch):
    rng = random.Random(11)
    first = POLICY.sequences.catalogue[0]
    policies = [
        POLICY,
        # two entries answering one signal (the first of equal scores wins), one answering another's
        _with_catalogue([first.model_copy(update={"id": "seq-again", "base_confidence": 0.99, "full_at": 2})]),
        POLICY.model_copy(update={"sequences": POLICY.sequences.model_copy(update={"catalogue": []})}),
    ]
    for policy in policies:
        for n in (1, 8, 60):
            world = _sequence_world(rng, n)
            items = sequences_module.sequence_proposals(world, policy)
            expected = _row_by_row_choices(world, policy)
            assert len(items) == len(expected)
            for item, (score, key, sequence_id, count) in zip(items, expected, strict=True):
                stub = item._proposal if isinstance(item, Blocked) else item  # the stub, not built yet
                assert (stub.target.id, stub.group) == (key, (key, sequence_id))
                assert isinstance(item, Blocked) == (score < policy.sequences.confidence_floor)
                proposal = stub.build()  # checks the slot, owner and account the stub said
                assert proposal.payload["confidence"] == score and f"{count} " in proposal.reasons[0]
            # Each stub built carries its own candidate row, as when every row was read up front.
            with monkeypatch.context() as patched:
                patched.setattr(sequences_module, "FrameRows", _whole_rows)
                before = [built(i.proposal if isinstance(i, Blocked) else i) for i in items]
                whole = sequences_module.sequence_proposals(world, policy)
                assert [built(i.proposal if isinstance(i, Blocked) else i) for i in whole] == before


def _hygiene_world(rng: random.Random):
    owners = [None, "Alice Carter", "Marta Schulz", "Derek Mills"]
    people = [
        contact(f"gc-{n}", rng.choice(owners), "US", golden_account_id=rng.choice([f"ga-{n % 5}", None]))
        for n in range(1, 120)
    ]
    world = inputs(people)
    world.meeting_follow_ups = frame(
        [
            {
                "meeting_id": m,
                "meeting_name": rng.choice([f"Call {m}", None]),
                "meeting_start_at": AS_OF - timedelta(days=2, hours=m % 9),
                "meeting_end_at": AS_OF - timedelta(days=2, hours=m % 9) + timedelta(minutes=30),
                "owner": rng.choice([*owners[1:], None]),
                "contact_record_id": m,
                "golden_contact_id": rng.choice([f"gc-{rng.randint(1, 140)}", None]),
                "deal_id": None,
                "first_touch_at": rng.choice([None, None, AS_OF]),
                "first_touch_id": None,
                "first_touch_kind": None,
            }
            for m in range(1, 150)
        ],
        FOLLOW_UP_SCHEMA,
    )
    world.open_deals = frame(
        [
            {
                "deal_id": d,
                "deal_name": rng.choice([f"Deal {d}", None]),
                "owner": rng.choice(owners),
                "stage": "qualification",
                "amount": rng.choice([None, 1000.0, 5000.0, 5000.0]),
                "close_date": None,
                "created_at": AS_OF - timedelta(days=30),
                "golden_account_id": rng.choice([f"ga-{d % 5}", None]),
                "primary_contact_record_id": None,
                "has_next_step": rng.choice([True, False, None]),
                "next_meeting_at": None,
                "open_tasks": 0,
                "missing_close_date": rng.choice([True, False, None]),
                "missing_amount": rng.choice([True, False, None]),
                "missing_primary_contact": rng.choice([True, False, None]),
            }
            for d in range(1, 200)
        ],
        OPEN_DEAL_SCHEMA,
    )
    return world


def _row_by_row_hygiene_slots(world):
    """The follow-up tasks' and deal flags' slots (windows), read row by row as before, in the output's order."""
    known = set(world.contacts["golden_contact_id"].to_list())
    owed = world.meeting_follow_ups.filter(
        pl.col("first_touch_at").is_null() & pl.col("golden_contact_id").is_not_null() & pl.col("owner").is_not_null()
    ).sort("meeting_end_at", "meeting_id")
    tasks = [
        (r["golden_contact_id"], f"meeting={r['meeting_id']}", r["owner"])
        for r in owed.iter_rows(named=True)
        if r["golden_contact_id"] in known
    ]
    missing = hygiene_module.MISSING
    deals = world.open_deals.with_columns(has_next_step=~pl.col("has_next_step").fill_null(False)).filter(
        pl.any_horizontal([pl.col(c).fill_null(False) for c in missing])
    )
    flags = []
    for r in deals.sort(["amount", "deal_id"], descending=[True, False], nulls_last=True).iter_rows(named=True):
        gaps = [words for column, words in missing.items() if r[column]]
        flags.append((f"deal-{r['deal_id']}", f"deal={r['deal_id']}|missing={','.join(gaps)}", r["owner"]))
    return tasks, flags


def test_hygiene_stubs_read_from_columns_give_the_row_by_row_stubs_and_proposals(monkeypatch):
    rng = random.Random(5)
    for _ in range(4):
        world = _hygiene_world(rng)
        tasks, flags = hygiene_module._follow_up_tasks(world, POLICY), hygiene_module._deal_flags(world)
        expected_tasks, expected_flags = _row_by_row_hygiene_slots(world)
        assert len(tasks) > 20 and len(flags) > 50
        assert [(s.target.id, s.evidence_window, s.owner) for s in tasks] == expected_tasks
        assert [(s.target.id, s.evidence_window, s.owner) for s in flags] == expected_flags
        proposals = [built(s) for s in [*tasks, *flags]]  # `build` checks the slot, owner and account
        with monkeypatch.context() as patched:
            patched.setattr(hygiene_module, "FrameRows", _whole_rows)
            whole = [*hygiene_module._follow_up_tasks(world, POLICY), *hygiene_module._deal_flags(world)]
            assert [built(s) for s in whole] == proposals


def test_unsubscribe_stubs_read_account_and_owner_alone_and_build_from_the_whole_row(monkeypatch):
    rng = random.Random(8)
    people = [
        contact(
            f"gc-{n}",
            rng.choice(["Alice Carter", None]),
            "US",
            golden_account_id=rng.choice([f"ga-{n}", None]),
            contact_name=rng.choice([f"Person {n}", None]),
        )
        for n in range(1, 60)
    ]
    people += [contact("gc-3", "Bob Stone", "DE", golden_account_id="ga-other")]  # gc-3 twice: the last row counts
    signals = [
        suppression_signal(f"p{rng.randint(1, 70)}@acme{n}.com", rng.choice(["unsubscribe", "spam_report"]), n / 3)
        for n in range(1, 80)
    ]
    signals += [suppression_signal(f"p{n}@acme{n}.com", "unsubscribe", hours_ago=n) for n in range(1, 60, 2)]
    world = inputs(people, signals=signals)
    stubs = suppression_module.unsubscribe_proposals(world, POLICY)
    assert len(stubs) > 15 and any(s.target.id == "gc-3" and s.owner == "Bob Stone" for s in stubs)
    proposals = [built(s) for s in stubs]  # `build` checks the owner and account the stub said
    with monkeypatch.context() as patched:
        patched.setattr(suppression_module, "ContactRows", contact_index)  # every matched contact's whole row
        assert [built(s) for s in suppression_module.unsubscribe_proposals(world, POLICY)] == proposals


def _row_by_row_withdrawn(store, context, live_slots, live_windows, planned):
    """The open actions withdrawn, the loop read field by field as before: (action id, suppressed or not)."""
    out = []
    for action in store.open_actions:
        workflow = Workflow(action.workflow)
        if workflow not in planned:
            continue
        kind = ACTION_TYPES[action.action_type]
        tested = kind.reaches_contact or kind.customer_facing
        if tested and context.suppression.reason(action.target_emails or [], action.target_domain):
            out.append((action.action_id, True))
            continue
        if action.slot_key in live_slots or action.evidence_window in live_windows.get(workflow, ()):
            continue
        out.append((action.action_id, False))
    return out


def test_withdrawals_read_from_rows_withdraw_what_the_field_by_field_loop_withdrew(engine):
    now = AS_OF + timedelta(hours=1)
    apply_plan(plan(busy_world(), POLICY, StoreView.read(engine, POLICY, now), now=now, run_id="r1"), engine, POLICY)
    world = busy_world_an_hour_later()
    store = StoreView.read(engine, POLICY, now)
    assert len(store.open_actions) > 5
    rng = random.Random(2)
    slots = [a.slot_key for a in store.open_actions]
    windows = [a.evidence_window for a in store.open_actions]
    entries = suppression_module.suppression_entries(world, POLICY)
    context = GuardrailContext(suppression=_merged_snapshot(store.suppression, entries), touches_this_week={})
    suppressed_seen = 0
    for _ in range(30):
        live_slots = set(rng.sample(slots, rng.randint(0, len(slots))))
        live_windows = {w: set(rng.sample(windows, rng.randint(0, 3))) for w in rng.sample(list(Workflow), 4)}
        planned = set(rng.sample(list(Workflow), rng.randint(0, len(Workflow))))
        withdrawn = _withdrawals(world, POLICY, store, context, live_slots, live_windows, planned)
        expected = _row_by_row_withdrawn(store, context, live_slots, live_windows, planned)
        assert [(i, why.startswith("Withdrawn: the contact is now suppressed")) for i, why in withdrawn] == expected
        suppressed_seen += sum(suppressed for _, suppressed in expected)
    assert suppressed_seen  # gc-1 unsubscribed within the hour
