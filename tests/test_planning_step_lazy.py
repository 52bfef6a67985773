"""The planning step's work not done (issue 14): suppression entries built only when read or new, and the
collector paused over the whole step. Each gives what the eager version gave."""

from __future__ import annotations

import contextlib
import gc
import types
from datetime import UTC, datetime
from functools import partial

import sqlalchemy as sa
from planning_fixtures import busy_world, inputs, signal

import actions.workflows.suppression as ws
import orchestration.defs.actions.assets as assets
from actions.planner import _merged_snapshot
from actions.policy import load_policy
from actions.suppression import LazyEntries, SuppressionEntry, SuppressionList, SuppressionSnapshot, entry_keys
from ops_store import open_store
from ops_store.schema import suppressions

POLICY = load_policy()
AT = datetime(2026, 11, 1, 9, tzinfo=UTC)


def _signals() -> list[dict]:
    rows = [
        signal(" Ann@Example.com ", "unsubscribe"),
        signal("ann@example.com", "unsubscribe", hours_ago=9),  # the same key once normalised
        signal("ann@example.com", "hard_bounce"),  # another reason: a row of its own
        signal("b@example.com", "customer", scope="prospecting"),
        signal("@Rival.io", "competitor_domain", kind="domain"),
        signal("rival.io", "competitor_domain", kind="domain", scope="prospecting"),
        signal("   ", "unsubscribe"),  # nothing left after trimming
        {**signal("e@example.com", "spam_report"), "source_value": None, "observed_at": None},
        signal("x@example.com", "not_a_source"),
    ]
    rows += [signal(f"p{i}@example.com", "hard_bounce", hours_ago=i % 7) for i in range(40)]
    return rows


def _eager(entries) -> list[SuppressionEntry]:
    return [SuppressionEntry(e.kind, e.value, e.reason, e.source, e.scope, e.evidence) for e in entries]


def test_lazy_entries_read_by_row_or_by_column_are_the_eager_entries(monkeypatch):
    world = inputs(signals=_signals())
    made = []
    for rows_at_most in (0, 3, 10_000):  # all by column, a few rows then the columns, all by row
        monkeypatch.setattr(ws._SignalEntries, "_ROWS_AT_MOST", rows_at_most)
        entries = ws.suppression_entries(world, POLICY)
        assert isinstance(entries, LazyEntries)
        made.append(_eager(entries))
        assert entry_keys(entries) == [e.key() for e in made[-1]]
        assert entries[-1] == made[-1][-1] and entries[2:5] == made[-1][2:5] and len(entries) == len(made[-1])
        assert entries == made[-1] and list(reversed([entries[i] for i in range(len(entries))])) == made[-1][::-1]
    assert made[0] == made[1] == made[2]
    assert len(made[0]) > 40 and any(e.reason == "competitor_domain" and e.source.startswith("policy") for e in made[0])


def test_lazy_entries_are_built_only_when_new_and_write_what_the_list_of_entries_wrote(tmp_path):
    world = inputs(signals=_signals())
    tables = []
    for name in ("eager", "lazy"):
        engine = open_store(f"sqlite:///{tmp_path / name}.sqlite")
        built: list[int] = []
        for hour in range(2):  # the second hour offers the same entries again: none is built
            entries = ws.suppression_entries(world, POLICY)
            if name == "eager":
                SuppressionList(engine).add_many(_eager(entries), added_by="planner", at=AT)
                continue
            entries._make = partial(_noted, entries._make, built)
            SuppressionList(engine).add_many(entries, added_by="planner", at=AT)
            if hour == 1:
                assert built == built[: len(built)] and len(built) == len(set(built))
                first_hour = len(built)
        if name == "lazy":
            assert first_hour == len(built) < len(entry_keys(entries))  # built once each, only the new ones
        with engine.connect() as con:
            query = sa.select(suppressions).order_by(suppressions.c.suppression_id)
            tables.append([tuple(r) for r in con.execute(query)])
        engine.dispose()
    assert tables[0] == tables[1] and len(tables[0]) > 40


def _noted(make, built: list[int], i: int) -> SuppressionEntry:
    built.append(i)
    return make(i)


def test_merged_snapshot_from_keys_is_the_snapshot_from_entries():
    entries = ws.suppression_entries(inputs(signals=_signals()), POLICY)
    held = SuppressionSnapshot(
        emails={"ann@example.com": "hard_bounce"}, domains={}, prospecting_emails={}, prospecting_domains={"x.io": "c"}
    )
    assert _merged_snapshot(held, entries) == _merged_snapshot(held, _eager(entries))


def test_the_planning_step_runs_without_a_cycle_collection_and_leaves_the_collector_as_it_was(tmp_path, monkeypatch):
    world = busy_world()
    monkeypatch.setattr(assets, "load_inputs", lambda con, now: world)
    monkeypatch.setattr(assets, "resolve_paths", lambda: types.SimpleNamespace(data_dir=tmp_path))
    warehouse = types.SimpleNamespace(connect=lambda read_only: contextlib.nullcontext())
    # A run without the console's publication: the step prepares none meanwhile.
    context = types.SimpleNamespace(
        run=types.SimpleNamespace(run_id="r1", step_keys_to_execute=None),
        log=types.SimpleNamespace(warning=print),
        job_def=types.SimpleNamespace(asset_layer=types.SimpleNamespace(selected_asset_keys={assets.PROPOSALS_KEY})),
    )
    step = assets.proposals.op.compute_fn.decorated_fn
    collections: list[int] = []
    inside = [False]
    work = assets._plan_and_write

    def noted_work(*args):
        inside[0] = True
        try:
            return work(*args)
        finally:
            inside[0] = False

    def note(phase, info):
        if phase == "start" and inside[0]:
            collections.append(info["generation"])

    monkeypatch.setattr(assets, "_plan_and_write", noted_work)

    def run(name: str) -> tuple[dict, list[int]]:
        url = f"sqlite:///{tmp_path / name}.sqlite"
        open_store(url).dispose()
        ops_store = types.SimpleNamespace(engine=lambda: open_store(url))
        gc.collect()
        collections.clear()
        gc.callbacks.append(note)
        try:
            # the thresholds low, so that any collection the step leaves to the collector happens
            with _thresholds(50):
                result = step(context, warehouse, ops_store)
        finally:
            gc.callbacks.remove(note)
        assert gc.isenabled()
        return result.metadata, list(collections)

    paused, during = run("paused")
    assert during == [] and paused["actions_added"] > 0
    monkeypatch.setattr(assets, "cyclic_gc_paused", contextlib.nullcontext)  # the step as it was: collections
    plain, during = run("plain")
    assert during and plain["actions_added"] == paused["actions_added"]


@contextlib.contextmanager
def _thresholds(first: int):
    before = gc.get_threshold()
    gc.set_threshold(first, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
