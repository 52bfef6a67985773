"""The planner's cheaper full pass (issue 14) proposes exactly what it proposed before: fingerprints of two hourly
plans of generated worlds recorded with the planner before the change, and each shortcut against the plain call it
replaces."""

from __future__ import annotations

import gc
import hashlib
import json
from datetime import UTC, datetime, timedelta

import polars as pl
from planning_fixtures import busy_world

from actions.drafts import _ENV, _render, banned_hits, render_draft, rule_hits, template_fields
from actions.planner import OPEN_ACTION_FIELDS, PlanResult, StoreView, apply_plan, cyclic_gc_paused, plan
from actions.policy import load_policy
from actions.queue import DecisionQueue
from bench.actions import synthetic_inputs
from ops_store import open_store

POLICY = load_policy()
NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _fingerprint(result: PlanResult) -> str:
    """New action ids (content keys: slot and payload), withdrawals with their reasons, blocked rules and slots."""
    parts = [
        sorted(a.action_id for a in result.actions),
        sorted(result.withdrawals),
        sorted((b.rule, b.proposal.slot_key) for b in result.blocked),
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _two_hours(world) -> tuple[PlanResult, PlanResult]:
    """Plan, write, then change the world (every 40th contact gone, some tiers raised) and plan the next hour."""
    engine = open_store("sqlite://")
    first = plan(world, POLICY, StoreView.read(engine, POLICY, NOW), now=NOW, run_id="first")
    apply_plan(first, engine, POLICY)
    world.contacts = (
        world.contacts.with_row_index("i")
        .filter(pl.col("i") % 40 != 7)
        .with_columns(tier=pl.when(pl.col("i") % 13 == 0).then(1).otherwise(pl.col("tier")))
        .drop("i")
    )
    later = NOW + timedelta(hours=1)
    second = plan(world, POLICY, StoreView.read(engine, POLICY, later), now=later, run_id="second")
    return first, second


def test_plans_of_generated_worlds_are_those_of_the_planner_before_the_change():
    # Recorded with the planner before issue 14's changes (c0c1323) and the default policy. A deliberate change of
    # what the planner proposes (policy, workflows) changes them: record them again then, with that change.
    first, second = _two_hours(synthetic_inputs(3000, seed=3))
    assert (len(first.actions), len(second.withdrawals)) == (419, 6)
    assert (_fingerprint(first), _fingerprint(second)) == ("99ec25bf5c3d6967", "c16319329dd89eee")
    first, second = _two_hours(busy_world())
    assert (len(first.actions), len(second.withdrawals)) == (10, 1)
    assert (_fingerprint(first), _fingerprint(second)) == ("397c43558bccfc57", "3e3f574a99aa45b1")


def test_planning_pauses_the_cycle_collector_and_restores_it():
    assert gc.isenabled()
    with cyclic_gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


def test_drafts_render_exactly_as_jinja_renders_them():
    sources = [source for t in POLICY.drafts.templates.values() for source in (t.subject, t.body)]
    assert sources
    # Whitespace control, trailing newlines, Windows line ends, a field used twice, a placeholder alone.
    sources += ["Hi {{- x }} ,\n\n{{ y -}}\n  end\n", "a\r\nb {{ x }}\r\n", "{{ x }}{{ x }}", "{{ y }}", "plain\n\n"]
    tricky = ["Zoë {{ x }}", "Acme & Sons\n<b>", "  spaced  ", "1 December 2026", "{% raw %}", ""]
    for source in sources:
        for shift in range(len(tricky)):
            values = {name: tricky[(n + shift) % len(tricky)] for n, name in enumerate(template_fields(source))}
            assert _render(source, values) == _ENV.from_string(source).render(values), (source, values)
    draft = render_draft(
        "t", "Hi {{ first }}", "For {{ company }}.\n", {"first": tricky[0], "company": tricky[1]}, [], {}
    )
    assert (draft.subject, draft.body) == ("Hi Zoë {{ x }}", "For Acme & Sons\n<b>.")


def test_the_planner_reads_only_the_fields_it_needs_of_open_actions(engine):
    result = plan(busy_world(), POLICY, StoreView.read(engine, POLICY, NOW), now=NOW, run_id="r")
    apply_plan(result, engine, POLICY)
    queue = DecisionQueue(engine, POLICY)
    whole = {a.action_id: a.row for a in queue.iter_open()}
    projected = {a.action_id: a.row for a in queue.iter_open(OPEN_ACTION_FIELDS)}
    assert whole and projected.keys() == whole.keys()
    for action_id, row in projected.items():
        assert set(row) == set(OPEN_ACTION_FIELDS)
        assert row == {k: whole[action_id][k] for k in OPEN_ACTION_FIELDS}


def test_banned_hits_pre_test_finds_what_the_patterns_find():
    claims, topics = POLICY.content.banned_claims, POLICY.content.topic_phrase_map()
    phrases = [*claims, *(p for topic, ps in topics.items() for p in (topic, *ps))]
    texts = ["", "Nothing to see here.", "scamper and fraudulently", "Re: your FedRAMP plans", "No-risk trial"]
    texts += [f"Hi Ana,\n{p.upper()} at the end" for p in phrases] + [f"{p.title()}." for p in phrases]
    # Unicode case folding matches more than lower-casing: the long s matches "s", the Kelvin sign "k".
    texts += ["a \u017fcam", "so \u017fpecial di\u017fcount", "Ünïcode scam", "\u212a", "ISO 27001 \u0441ertified"]
    assert any(rule_hits(t, claims, topics) for t in texts if not t.isascii())
    for text in texts:
        assert banned_hits(text, claims, topics) == rule_hits(text, claims, topics), text
    unicode_phrases = {"pricing exceptions": ["\u212aickback"]}  # a non-ASCII phrase: the pattern decides
    for text in ("a kickback", "a KICKBACK", "a \u212aickback", "nothing"):
        assert banned_hits(text, [], unicode_phrases) == rule_hits(text, [], unicode_phrases), text
