"""The planning step's reads (issue 14): whole contact rows read by position where a workflow builds a few. They
give what an index of every candidate gave."""

from __future__ import annotations

import random

import polars as pl
from planning_fixtures import contact, inputs, sequence_candidate

import actions.workflows.sequences as sequences_module
from actions.guardrails import Blocked
from actions.inputs import CONTACT_SCHEMA, SEQUENCE_CANDIDATE_SCHEMA
from actions.model import built
from actions.policy import load_policy
from actions.workflows.common import ContactRows, contact_index

POLICY = load_policy()


def _contacts(rng: random.Random, n: int) -> pl.DataFrame:
    rows = []
    for i in range(n):
        key = f"gc-{rng.randint(1, n // 2 + 1)}"  # some contacts listed twice: the last row counts
        owner, country = rng.choice(["Alice Carter", None]), rng.choice(["US", "DE", None])
        row = contact(key, owner, country, tier=rng.choice([1, 2, 3]))
        row["emails"] = rng.choice([[], None, [f"x{i}@a.com", f"y{i}@b.com"]])
        row["crm_record_ids"] = rng.choice([None, [i, i + 1]])
        row["industry"] = rng.choice(["Software", None])
        rows.append(row)
    return pl.DataFrame(rows, schema=CONTACT_SCHEMA, orient="row")


def test_contact_rows_give_the_index_rows_by_position_and_after_indexing():
    rng = random.Random(7)
    for _ in range(20):
        frame = _contacts(rng, rng.randint(1, 60))
        index = contact_index(frame)
        for by_position in (0, 1, 3, 1_000):
            rows = ContactRows(frame, by_position=by_position)
            keys = list(index) * 2
            rng.shuffle(keys)
            for key in keys:
                assert rows[key] == index[key]
                assert list(rows[key]) == list(index[key])  # the columns in the same order


def _sequence_world(n: int):
    rng = random.Random(n)
    people = [contact(f"gc-{i}", "Alice Carter", "US", tier=rng.choice([1, 2, 3, None])) for i in range(1, n + 1)]
    people += [contact("gc-2", "Bob Stone", "DE", tier=1)]  # gc-2 twice: its last row is the target
    candidates = [
        sequence_candidate(
            f"gc-{i}",
            tool_installs_30d=rng.choice([0, 1, 3]),
            tool_install_signal_id=f"s-{i}",
            tool_install_detail="installed",
            demo_requests_30d=rng.choice([0, 1]),
            pricing_visits_30d=rng.choice([0, 2, 6]),
        )
        for i in range(1, n + 1)
    ]
    world = inputs(people)
    world.sequence_candidates = pl.DataFrame(candidates, schema=SEQUENCE_CANDIDATE_SCHEMA, orient="row")
    return world


def _built(items):
    return [built(i.proposal if isinstance(i, Blocked) else i) for i in items]


def test_sequence_proposals_carry_the_whole_row_an_index_of_every_candidate_gives(monkeypatch):
    for n in (5, 40):
        world = _sequence_world(n)
        with monkeypatch.context() as patched:
            patched.setattr(sequences_module, "ContactRows", contact_index)  # the whole index, as before
            before = _built(sequences_module.sequence_proposals(world, POLICY))
        for by_position in (0, 2, 1_000):
            with monkeypatch.context() as patched:
                patched.setattr(sequences_module, "ContactRows", lambda f, b=by_position: ContactRows(f, b))
                assert _built(sequences_module.sequence_proposals(world, POLICY)) == before
        assert before and any(p.target.id == "gc-2" and p.owner == "Bob Stone" for p in before)
