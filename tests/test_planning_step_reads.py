"""The planning step's reads (issue 14): whole contact rows read by position where a workflow builds a few, and the
warehouse's inputs read while the store is. Each gives what the plain version gave."""

from __future__ import annotations

import contextlib
import random
import threading
import types
from datetime import UTC, datetime

import polars as pl
import pytest
import sqlalchemy as sa
from planning_fixtures import busy_world, contact, inputs, sequence_candidate

import actions.workflows.sequences as sequences_module
import orchestration.defs.actions.assets as assets
from actions.guardrails import Blocked
from actions.inputs import CONTACT_SCHEMA, SEQUENCE_CANDIDATE_SCHEMA
from actions.model import built
from actions.planner import StoreView, apply_plan, plan
from actions.policy import load_policy
from actions.queue import DecisionQueue
from actions.workflows.common import ContactRows, contact_index
from ops_store import open_store
from ops_store.schema import action_events, actions, suppressions

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


NOW = datetime(2026, 11, 1, 9, tzinfo=UTC)


def _step_world(monkeypatch, tmp_path, load):
    monkeypatch.setattr(assets, "load_inputs", load)
    monkeypatch.setattr(assets, "utc_now", lambda: NOW)
    monkeypatch.setattr(assets, "resolve_paths", lambda: types.SimpleNamespace(data_dir=tmp_path))
    warehouse = types.SimpleNamespace(connect=lambda read_only: contextlib.nullcontext())
    context = types.SimpleNamespace(run=types.SimpleNamespace(run_id="r1"), log=types.SimpleNamespace(warning=print))
    return warehouse, context


def _store(tmp_path, name: str) -> tuple[str, types.SimpleNamespace]:
    url = f"sqlite:///{tmp_path / name}.sqlite"
    open_store(url).dispose()
    return url, types.SimpleNamespace(engine=lambda: open_store(url))


def _written(url: str) -> tuple[list, list, list]:
    engine = open_store(url)
    with engine.connect() as con:
        rows = sorted(
            con.execute(sa.select(actions.c.action_id, actions.c.state, actions.c.risk_class, actions.c.owner)).all()
        )
        events = sorted(con.execute(sa.select(action_events.c.action_id, action_events.c.event)).all())
        entries = sorted(con.execute(sa.select(suppressions.c.kind, suppressions.c.value, suppressions.c.reason)).all())
    engine.dispose()
    return rows, events, entries


def test_the_step_reads_the_warehouse_while_it_reads_the_store_and_plans_what_one_read_after_the_other_plans(
    tmp_path, monkeypatch
):
    world = busy_world()
    store_reading = threading.Event()
    read = StoreView.read.__func__

    def noted_read(cls, *args):
        store_reading.set()
        return read(cls, *args)

    def load(con, now):
        # Only returns once the store read has begun: one read after the other would wait here and fail.
        assert store_reading.wait(timeout=10), "the warehouse was not read while the store was"
        assert threading.current_thread() is not threading.main_thread()
        return world

    warehouse, context = _step_world(monkeypatch, tmp_path, load)
    monkeypatch.setattr(StoreView, "read", classmethod(noted_read))
    url, ops_store = _store(tmp_path, "overlapped")
    metadata = assets._plan_and_write(context, warehouse, ops_store)
    assert metadata["actions_added"] > 0

    # The same hour one read after the other, as the step did before.
    plain_url, plain_store = _store(tmp_path, "plain")
    engine = plain_store.engine()
    expired = DecisionQueue(engine, POLICY).expire_due()
    result = plan(world, POLICY, StoreView.read(engine, POLICY, NOW), now=NOW, run_id="r1")
    written = apply_plan(result, engine, POLICY)
    engine.dispose()
    assert (metadata["expired"], metadata["actions_added"], metadata["withdrawn"]) == (
        expired,
        written["actions_added"],
        written["withdrawn"],
    )
    assert _written(url) == _written(plain_url)


def test_a_failed_warehouse_read_fails_the_step_after_the_store_read(tmp_path, monkeypatch):
    def load(con, now):
        raise RuntimeError("the warehouse is gone")

    warehouse, context = _step_world(monkeypatch, tmp_path, load)
    _, ops_store = _store(tmp_path, "failed")
    with pytest.raises(RuntimeError, match="the warehouse is gone"):
        assets._plan_and_write(context, warehouse, ops_store)
