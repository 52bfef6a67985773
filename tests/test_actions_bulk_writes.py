"""The planner's writes bound column by column (`ops_store.bulk.insert_many`) store what SQLAlchemy's per-row
insert stored: the same text for every JSON document, time and flag, whatever the values (None, equal times in
other zones, -0.0 and 0.0, repeated values), and the same queue after a plan is applied."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from planning_fixtures import busy_world

from actions import queue as queue_module
from actions import suppression as suppression_module
from actions.planner import StoreView, apply_plan, plan
from actions.policy import load_policy
from ops_store import open_store
from ops_store.bulk import insert_many
from ops_store.schema import action_events, actions, suppressions

POLICY = load_policy()
BASE = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # a night the clocks change in Europe
ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]


def _moment(rng: random.Random) -> datetime:
    # Few distinct instants (the memo's case), spelled in several zones (equal instants, other fields).
    return (BASE + timedelta(minutes=rng.randrange(4), microseconds=rng.choice([0, 7]))).astimezone(rng.choice(ZONES))


def _document(rng: random.Random, depth: int = 0):
    kind = rng.randrange(9 if depth < 2 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False, 1, 0])
    if kind == 2:
        return rng.choice([0.0, -0.0, 1.0, 1, 2.5])
    if kind == 3:
        return rng.choice(["", "x", "é ünïcode", "null", '"q"'])
    if kind == 4:
        return _moment(rng).isoformat()
    if kind == 5:
        return rng.choice([[], {}])
    if kind in (6, 7):
        return [_document(rng, depth + 1) for _ in range(rng.randrange(3))]
    return {f"k{i}": _document(rng, depth + 1) for i in range(rng.randrange(3))}


def _action_rows(rng: random.Random, n: int) -> tuple[list[dict], list[dict]]:
    rows, events = [], []
    for i in range(n):
        action_id = f"a{i:05d}"
        rows.append(
            {
                "action_id": action_id,
                "slot_key": f"s{i}",
                "evidence_window": rng.choice(["w1", "w2"]),
                "workflow": "hygiene",
                "action_type": "crm_task",
                "target_kind": "contact",
                "target_id": f"gc-{i}",
                "target_label": rng.choice([None, "Ann", "Zoë"]),
                "target_crm_ids": _document(rng),
                "target_emails": rng.choice([[], ["a@x.com"], None]),
                "target_domain": rng.choice([None, "x.com"]),
                "account_id": rng.choice([None, "acc-1"]),
                "owner": rng.choice([None, "o1"]),
                "approver_group": None,
                "risk_class": "approve",
                "customer_facing": rng.choice([True, False]),
                "state": "proposed",
                "state_reason": rng.choice([None, "why"]),
                "payload": _document(rng),
                "payload_hash": "h",
                "edited_payload": rng.choice([None, _document(rng)]),
                "approved_payload_hash": None,
                "reasons": _document(rng),
                "evidence": _document(rng),
                "policy_verdicts": _document(rng),
                "model_version": None,
                "policy_version": "p1",
                "kpi": "k",
                "as_of": _moment(rng),
                "proposed_at": _moment(rng),
                "expires_at": _moment(rng),
                "decided_by": None,
                "decided_at": rng.choice([None, _moment(rng)]),
                "decision_note": None,
                "updated_at": _moment(rng),
                "run_id": rng.choice([None, "r1"]),
                "row_version": 1,
            }
        )
        events.append(
            {
                "action_id": action_id,
                "at": _moment(rng),
                "actor": "planner",
                "event": "proposed",
                "from_state": None,
                "to_state": "proposed",
                "note": rng.choice([None, "n"]),
                "payload_before": rng.choice([None, _document(rng)]),
                "payload_after": None,
            }
        )
    return rows, events


def _dump(engine: sa.Engine) -> dict[str, list[tuple]]:
    # The stored values as SQLite holds them (text, integers), not as SQLAlchemy reads them back.
    with engine.connect() as con:
        return {
            name: con.exec_driver_sql(f"select * from {name} order by rowid").fetchall()
            for name in ("actions", "action_events", "suppressions", "planner_runs")
        }


def test_bound_by_column_stores_what_sqlalchemy_stored(tmp_path):
    rng = random.Random(14)
    rows, events = _action_rows(rng, 400)
    entries = [
        {
            "kind": "email",
            "value": f"v{i}@x.com",
            "scope": "all",
            "reason": "unsubscribed",
            "source": "s",
            "evidence": _document(rng),
            "added_by": "planner",
            "added_at": _moment(rng),
        }
        for i in range(300)
    ]
    stores = {}
    for name, insert in (
        ("plain", lambda con, table, rows: con.execute(sa.insert(table), rows)),
        ("bulk", insert_many),
    ):
        engine = open_store(f"sqlite:///{tmp_path / name}.sqlite")
        with engine.begin() as con:
            insert(con, actions, rows)
            insert(con, action_events, events)
            insert(con, suppressions, entries)
        stores[name] = _dump(engine)
        engine.dispose()
    assert stores["bulk"] == stores["plain"]
    assert len(stores["bulk"]["actions"]) == 400 and len(stores["bulk"]["suppressions"]) == 300


def test_rows_that_need_a_column_default_go_through_sqlalchemy(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    table = sa.Table(
        "defaults", sa.MetaData(), sa.Column("k", sa.Integer, primary_key=True), sa.Column("v", sa.String, default="d")
    )
    table.create(engine)
    with engine.begin() as con:
        insert_many(con, table, [{"k": 1}, {"k": 2}])
        insert_many(con, table, [])
    with engine.connect() as con:
        assert con.exec_driver_sql("select k, v from defaults order by k").fetchall() == [(1, "d"), (2, "d")]
    with engine.begin() as con, pytest.raises(ValueError, match="zone-aware"):
        insert_many(con, suppressions, [{**_entry(), "added_at": datetime(2026, 1, 1)}])  # naive: refused as before
    engine.dispose()


def _entry() -> dict:
    return {"kind": "email", "value": "a@x.com", "scope": "all", "reason": "r", "source": "s", "evidence": None,
            "added_by": "p", "added_at": BASE}  # fmt: skip


def test_a_plan_applied_leaves_the_store_sqlalchemys_insert_left(tmp_path, monkeypatch):
    now = datetime(2026, 5, 4, 15, 0, tzinfo=UTC)
    result = plan(busy_world(), POLICY, StoreView.read(_store(tmp_path, "probe"), POLICY, now), now=now, run_id="r1")
    assert len(result.actions) >= 8 and result.suppression_entries
    # The queue's own clock stamps `updated_at` and `decided_at`: held still, so both stores compare whole.
    original = queue_module.DecisionQueue.__init__
    monkeypatch.setattr(
        queue_module.DecisionQueue,
        "__init__",
        lambda self, engine, policy, clock=None: original(self, engine, policy, lambda: now),
    )
    dumps = {}
    for name in ("bulk", "plain"):
        if name == "plain":
            plain = lambda con, table, rows: con.execute(sa.insert(table), rows)  # noqa: E731
            monkeypatch.setattr(queue_module, "insert_many", plain)
            monkeypatch.setattr(suppression_module, "insert_many", plain)
        engine = _store(tmp_path, name)
        apply_plan(result, engine, POLICY)
        dumps[name] = _dump(engine)
        engine.dispose()
    assert dumps["bulk"] == dumps["plain"]
    assert len(dumps["bulk"]["actions"]) == len(result.actions)


def _store(tmp_path, name: str) -> sa.Engine:
    return open_store(f"sqlite:///{tmp_path / name}.sqlite")


def test_values_that_compare_equal_but_bind_apart_are_bound_one_by_one():
    from ops_store.bulk import _bound, _processor

    dialect = sa.create_engine("sqlite://").dialect
    as_json = _processor(sa.JSON(), dialect)
    assert _bound([-0.0, 0.0, True, 1, None, None], as_json) == ["-0.0", "0.0", "true", "1", "null", "null"]
    # A plain DateTime on SQLite writes an aware time's own fields: one instant in two zones is two texts.
    moment = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    values = [moment, moment.astimezone(ZONES[1]), moment, moment.replace(fold=1)]
    assert _bound(values, _processor(sa.DateTime(), dialect)) == [_processor(sa.DateTime(), dialect)(v) for v in values]
    assert len(set(_bound(values, _processor(sa.DateTime(), dialect)))) == 2


def test_rows_share_equal_verdicts_reuse_the_planners_hashes_and_store_what_a_row_alone_stores(tmp_path):
    from actions.model import CrmRef, PolicyVerdict, payload_hash
    from actions.queue import new_action_row

    # The shared verdict lists are keyed by these fields, and a CRM ref's document is written field by field: a new
    # field must be added there too.
    assert list(PolicyVerdict.model_fields) == ["rule", "verdict", "detail"]
    assert list(CrmRef.model_fields) == ["object_type", "record_id"]
    now = datetime(2026, 5, 4, 15, 0, tzinfo=UTC)
    result = plan(busy_world(), POLICY, StoreView.read(_store(tmp_path, "probe"), POLICY, now), now=now, run_id="r1")
    assert any(a.target.crm_ids for a in result.actions)
    shared: dict = {}
    # The hash each action's id rests on, kept by the planner, is its payload's: the row stores it unhashed again.
    assert all(result.payload_hashes[a.action_id] == payload_hash(a.payload) for a in result.actions)
    rows = [new_action_row(a, "r1", now, shared, result.payload_hashes[a.action_id])[0] for a in result.actions]
    distinct = {json.dumps(r["policy_verdicts"]) for r in rows}
    assert len(shared) == len(distinct) < len(rows)  # one list per distinct set of verdicts, in every row that has it
    assert len({id(r["policy_verdicts"]) for r in rows}) == len(distinct)
    for action, row in zip(result.actions, rows, strict=True):
        # As each document's pydantic dump encodes (the key order too), and as a row built alone holds it.
        assert json.dumps(row["policy_verdicts"]) == json.dumps([v.model_dump() for v in action.policy_verdicts])
        assert json.dumps(row["target_crm_ids"]) == json.dumps([r.model_dump() for r in action.target.crm_ids])
        assert row == new_action_row(action, "r1", now)[0]


def test_a_value_many_rows_share_is_bound_once_as_it_binds_alone():
    from ops_store.bulk import _bound, _processor

    calls = []

    def as_json(value):
        calls.append(value)
        return json.dumps(value)

    shared, equal_but_apart = [{"rule": "r", "verdict": "pass"}], [{"rule": "r", "verdict": "pass"}]
    values = [shared, equal_but_apart, shared, [-0.0], shared, [0.0]]
    assert _bound(values, as_json) == [json.dumps(v) for v in values]
    assert calls == [shared, equal_but_apart, [-0.0], [0.0]]  # the shared list once; equal lists each on their own
    dialect = sa.create_engine("sqlite://").dialect
    assert _bound(values, _processor(sa.JSON(), dialect)) == [_processor(sa.JSON(), dialect)(v) for v in values]
