"""The planning step's cheaper reads and writes give what the plain versions gave: the explanations check reads
whether a JSON document is empty off its text, the suppression list tests offered entries by their key, and the
suppression entries are made column by column."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import polars as pl
import sqlalchemy as sa
from planning_fixtures import busy_world, inputs, signal

from actions.catalog import ACTION_TYPES
from actions.checks import LIVE, json_text_truthy, queue_safety
from actions.inputs import SIGNAL_SCHEMA
from actions.planner import StoreView, apply_plan, plan
from actions.policy import load_policy
from actions.queue import DecisionQueue, json_values
from actions.states import NOT_YET_QUEUED
from actions.suppression import SuppressionEntry, SuppressionList, normalize_value
from actions.workflows.suppression import suppression_entries
from ops_store.schema import actions as actions_table
from ops_store.schema import suppressions

POLICY = load_policy()

JSON_TEXTS = [
    "null", "false", "true", "0", "-0", "0.0", "-0.0", "0e5", "0E-3", "1e-400", "1", "-1.5", "2e3", "NaN",
    "Infinity", "-Infinity", '""', '" "', '"0"', '"a"', '"\\u0000"', "[]", "[ ]", " [\n\t] ", "[0]", "[[]]",
    "[null]", '[""]', "{}", "{ }", '{"a": 1}', '{"": null}', " 0 ", "\t[]\r\n", "\n{\n}\n", ' "" ', "[\r]",
]  # fmt: skip


def _random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, 0.0, -0.0, 1, -3, 2.5, 1e-300])
    if kind == 3:
        return rng.choice(["", " ", "x", "0", "[]", "null"])
    if kind == 4:
        return rng.choice([[], {}])
    if kind in (5, 6):
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(3))]
    return {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randrange(3))}


def test_json_text_truthy_is_the_truth_of_the_decoded_document():
    rng = random.Random(7)
    texts = list(JSON_TEXTS)
    for _ in range(2000):
        value = _random_value(rng)
        texts.append(json.dumps(value, indent=rng.choice([None, 0, 2]), separators=rng.choice([None, (",", ":")])))
    for text in texts:
        assert json_text_truthy(text) == bool(json.loads(text)), text
    assert json_text_truthy(None) is False


def _plain_unexplained(engine, run_id: str) -> list[str]:
    """The explanations check as it was: every JSON document decoded."""
    with engine.connect() as con:
        rows = con.execute(
            sa.select(
                actions_table.c.action_id,
                actions_table.c.reasons,
                actions_table.c.evidence,
                actions_table.c.policy_verdicts,
                actions_table.c.policy_version,
                actions_table.c.kpi,
            ).where(actions_table.c.run_id == run_id)
        ).all()
    return [
        a
        for a, reasons, evidence, verdicts, version, kpi in rows
        if not (reasons and evidence and verdicts and version and kpi)
    ]


def test_the_explanations_check_finds_what_decoding_every_document_found(engine):
    now = datetime.now(UTC)
    result = plan(busy_world(), POLICY, StoreView.read(engine, POLICY, now), now=now, run_id="r1")
    apply_plan(result, engine, POLICY)
    assert queue_safety(engine, POLICY, run_id="r1").unexplained == []
    with engine.connect() as con:
        ids = sorted(con.execute(sa.select(actions_table.c.action_id)).scalars())
    assert len(ids) >= 8
    # Documents that decode to empty or false values, spelled in several ways, and SQL NULL; and some that do not.
    broken = {
        ids[0]: ("reasons", "[]"),
        ids[1]: ("evidence", "[ \n]"),
        ids[2]: ("policy_verdicts", "null"),
        ids[3]: ("reasons", '""'),
        ids[4]: ("evidence", "{}"),
        ids[5]: ("kpi", ""),
        ids[6]: ("reasons", "0.0"),
        ids[7]: ("evidence", "[0]"),  # not empty: explained
    }
    with engine.begin() as con:
        for action_id, (column, text) in broken.items():
            con.execute(
                sa.text(f"update actions set {column} = :text where action_id = :id"), {"text": text, "id": action_id}
            )
    found = queue_safety(engine, POLICY, run_id="r1").unexplained
    assert found == _plain_unexplained(engine, "r1")
    assert sorted(found) == sorted(ids[:7])


def _plain_add_many(engine, entries: list[SuppressionEntry], at: datetime) -> int:
    """`SuppressionList.add_many` as it was: every offered entry rebuilt with its value normalised, then tested."""
    rows, seen = [], set()
    with engine.begin() as con:
        existing = {
            tuple(r)
            for r in con.execute(
                sa.select(suppressions.c.kind, suppressions.c.value, suppressions.c.scope, suppressions.c.reason)
            )
        }
        for entry in entries:
            entry = SuppressionEntry(
                entry.kind,
                normalize_value(entry.kind, entry.value),
                entry.reason,
                entry.source,
                entry.scope,
                entry.evidence,
            )
            if not entry.value or entry.key() in existing or entry.key() in seen:
                continue
            seen.add(entry.key())
            rows.append(
                {
                    "kind": entry.kind,
                    "value": entry.value,
                    "scope": entry.scope,
                    "reason": entry.reason,
                    "source": entry.source,
                    "evidence": entry.evidence,
                    "added_by": "planner",
                    "added_at": at,
                }
            )
        if rows:
            con.execute(sa.insert(suppressions), rows)
    return len(rows)


def test_adding_suppression_entries_by_key_writes_what_rebuilding_each_entry_wrote(tmp_path):
    from ops_store import open_store

    at = datetime(2026, 11, 1, 9, tzinfo=UTC)
    offered = [
        SuppressionEntry("email", " Ann@Example.com ", "unsubscribe", "s1", evidence={"a": "1"}),
        SuppressionEntry("email", "ann@example.com", "unsubscribe", "s2"),  # the same key, once normalised
        SuppressionEntry("email", "ann@example.com", "hard_bounce", "s3"),  # another reason: a row of its own
        SuppressionEntry("domain", "@Rival.io", "competitor_domain", "s4"),
        SuppressionEntry("domain", "rival.io", "competitor_domain", "s5", scope="prospecting"),
        SuppressionEntry("email", "   ", "unsubscribe", "s6"),  # nothing left after trimming: skipped
        SuppressionEntry("email", "bob@example.com", "spam_report", "s7"),
    ]
    tables = []
    for name, add in (("plain", _plain_add_many), ("by_key", None)):
        engine = open_store(f"sqlite:///{tmp_path / name}.sqlite")
        first, again = offered[:3], offered
        for batch in (first, again):  # the second hour offers the first hour's entries again
            if add is None:
                SuppressionList(engine).add_many(batch, added_by="planner", at=at)
            else:
                add(engine, batch, at)
        with engine.connect() as con:
            tables.append(
                [tuple(r) for r in con.execute(sa.select(suppressions).order_by(suppressions.c.suppression_id))]
            )
        engine.dispose()
    assert tables[0] == tables[1] and len(tables[0]) == 5


def _plain_entries(world, policy) -> list[SuppressionEntry]:
    """The signal part of `suppression_entries` as it was: a dict per row."""
    sources = set(policy.suppression.sources)
    out = []
    for row in world.suppression_signals.iter_rows(named=True):
        if row["reason"] not in sources or (
            row["reason"] == "customer" and not policy.suppression.customers_for_prospecting
        ):
            continue
        out.append(
            SuppressionEntry(
                kind=row["kind"],
                value=row["value"],
                reason=row["reason"],
                scope=row["scope"],
                source=f"{row['source_table']} {row['source_key']}",
                evidence={
                    k: str(row[k]) if row[k] is not None else None
                    for k in ("source_field", "source_value", "observed_at")
                },
            )
        )
    return out


def test_suppression_entries_made_by_column_are_those_made_by_row():
    signals = [
        signal("a@example.com", "unsubscribe"),
        signal("b@example.com", "customer", scope="prospecting"),
        signal("c@example.com", "not_a_source"),
        signal("d@example.com", "hard_bounce", hours_ago=30),
        signal("rival.io", "competitor_domain", kind="domain"),
        {**signal("e@example.com", "spam_report"), "source_value": None, "observed_at": None},
        {**signal("f@example.com", "do_not_contact"), "reason": None},
        signal("g@example.com", "customer", scope="prospecting"),
    ]
    world = inputs(signals=signals)
    assert world.suppression_signals.schema == pl.Schema(SIGNAL_SCHEMA)
    for customers in (True, False):
        policy = POLICY.model_copy(
            update={"suppression": POLICY.suppression.model_copy(update={"customers_for_prospecting": customers})}
        )
        made = suppression_entries(world, policy)
        plain = _plain_entries(world, policy)
        assert made[: len(plain)] == plain
        assert len(plain) == (6 if customers else 4)


def test_json_values_decode_as_each_text_alone():
    rng = random.Random(11)
    texts: list = [*JSON_TEXTS, None]
    for _ in range(2000):
        value = _random_value(rng)
        texts.append(json.dumps(value, indent=rng.choice([None, 0, 2]), separators=rng.choice([None, (",", ":")])))
        texts.append(None if rng.random() < 0.1 else json.dumps([f"p{rng.randrange(99)}@x.com", "é\u2028"]))
    rng.shuffle(texts)
    # repr: NaN is not equal to itself, and -0.0 must stay -0.0
    assert repr(json_values(texts)) == repr([None if t is None else json.loads(t) for t in texts])
    assert json_values([]) == []
    # Numbers stored as numbers are themselves (SQLAlchemy's JSON type on SQLite); texts that are not one document
    # each are decoded one by one, so they fail as before instead of shifting the rows.
    assert json_values(["[1]", 5, None, 2.5]) == [[1], 5, None, 2.5]
    for bad in (["1,2", "[3]"], ["[1", "2]"], ["", "[]"], ["[1]", "{"]):
        try:
            json_values(bad)
        except json.JSONDecodeError:
            continue
        raise AssertionError(f"{bad} decoded")


def test_open_actions_and_suppressed_targets_read_as_sqlalchemy_read_them(engine):
    now = datetime.now(UTC)
    world = busy_world()
    apply_plan(plan(world, POLICY, StoreView.read(engine, POLICY, now), now=now, run_id="r1"), engine, POLICY)
    with engine.begin() as con:  # an action whose emails are JSON null, one with none, one with unicode
        ids = sorted(con.execute(sa.select(actions_table.c.action_id)).scalars())
        for action_id, text in zip(ids, ["null", "[]", '["\u00e9@x.com", "a@b.c"]'], strict=False):
            con.execute(
                sa.text("update actions set target_emails = :t where action_id = :id"), {"t": text, "id": action_id}
            )
    queue = DecisionQueue(engine, POLICY)
    with engine.connect() as con:
        plain = {
            r["action_id"]: dict(r)
            for r in con.execute(
                sa.select(actions_table).where(actions_table.c.state.in_([s.value for s in NOT_YET_QUEUED]))
            ).mappings()
        }
    assert len(plain) >= 8
    assert {a.action_id: a.row for a in queue.iter_open()} == plain
    assert {a.action_id: a.row for a in queue.iter_open(("action_id", "target_emails", "payload"))} == {
        k: {c: v[c] for c in ("action_id", "target_emails", "payload")} for k, v in plain.items()
    }
    # Every open action's emails suppressed: the check finds each live gated action, as decoding row by row did.
    signals = [signal(e, "unsubscribe") for row in plain.values() for e in (row["target_emails"] or [])]
    entries = suppression_entries(inputs(signals=signals), POLICY)
    assert SuppressionList(engine).add_many(entries, "test", at=now)
    found = queue_safety(engine, POLICY).suppressed_targets
    snapshot = SuppressionList(engine).snapshot()
    columns = ("action_id", "target_emails", "target_domain", "state", "action_type")
    with engine.connect() as con:
        rows = con.execute(sa.select(*(actions_table.c[c] for c in columns))).all()
    expected = [
        a
        for a, emails, domain, state, kind in rows
        if state in {s.value for s in LIVE}
        and (ACTION_TYPES[kind].reaches_contact or ACTION_TYPES[kind].customer_facing)
        and snapshot.reason(emails or [], domain)
    ]
    assert sorted(found) == sorted(expected) and found
