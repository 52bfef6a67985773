"""The decision log asset: the queue's actions copied into raw.decision_log, one row per action, with the first
sent time from the sync outbox and the held-out state kept as it is (what the outcome marts compare)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa
import yaml
from dbt_runner import DBT_PROJECT

import actions.decision_log as decision_log_module
from actions.catalog import ACTION_TYPES
from actions.decision_log import TABLE, _copy, _UnusualTime, copy_decision_log
from ops_store import open_store
from ops_store.schema import action_events, actions, sync_outbox
from orchestration.defs.actions.decision_log import DECISION_LOG_KEY, decision_log
from orchestration.resources import OpsStoreResource, WarehouseResource

PROPOSED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _action(action_id: str, workflow: str, state: str, **extra) -> dict:
    return {
        "action_id": action_id,
        "slot_key": action_id,
        "evidence_window": "w",
        "workflow": workflow,
        "action_type": "enroll_sequence" if workflow == "sequences" else "create_task",
        "target_kind": "contact",
        "target_id": f"gc-{action_id}",
        "target_crm_ids": [],
        "target_emails": [],
        "account_id": "ga-1",
        "owner": "Ann",
        "risk_class": "approve",
        "customer_facing": workflow == "sequences",
        "state": state,
        "payload": {},
        "payload_hash": "h",
        "reasons": [],
        "evidence": [],
        "policy_verdicts": [],
        "policy_version": "p1",
        "kpi": "k",
        "as_of": PROPOSED,
        "proposed_at": PROPOSED,
        "expires_at": PROPOSED + timedelta(days=7),
        "updated_at": PROPOSED,
        "row_version": 1,
        "decided_at": None,
        "decided_by": None,
        **extra,
    }


def _outbox(outbox_id: str, action_id: str, state: str, sent_at: datetime | None) -> dict:
    return {
        "outbox_id": outbox_id,
        "action_id": action_id,
        "connection": "hubspot@test",
        "request_kind": "create",
        "object_type": "tasks",
        "idempotency_key": outbox_id,
        "payload": {},
        "payload_hash": "h",
        "state": state,
        "attempts": 1,
        "next_attempt_at": PROPOSED,
        "created_at": PROPOSED,
        "updated_at": PROPOSED,
        "sent_at": sent_at,
    }


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    engine = open_store(url)
    decided = PROPOSED + timedelta(hours=1)
    first, second = PROPOSED + timedelta(hours=2), PROPOSED + timedelta(hours=3)
    with engine.begin() as con:
        con.execute(
            actions.insert(),
            [
                _action("a1", "sequences", "sent", decided_at=decided, decided_by="Ann"),
                # Held out: the state another helper adds to actions.states; never approved, never sent.
                _action("a2", "sequences", "held_out"),
                _action("a3", "sla", "proposed"),
                _action("a4", "sla", "queued", decided_at=decided),
            ],
        )
        con.execute(
            sync_outbox.insert(),
            [
                _outbox("o1", "a1", "sent", second),
                _outbox("o2", "a1", "sent", first),  # two requests: the first send counts
                _outbox("o3", "a4", "retryable", None),  # queued, not sent yet
            ],
        )
    engine.dispose()
    return url


def test_asset_copies_one_row_per_action_with_first_send_and_held_out(tmp_path, store):
    warehouse = tmp_path / "warehouse.duckdb"
    resources = {
        "warehouse": WarehouseResource(database_path=str(warehouse), landing_dir=str(tmp_path / "landing")),
        "ops_store": OpsStoreResource(url=store),
    }
    result = dg.materialize([decision_log], resources=resources)
    assert result.success
    (materialization,) = result.asset_materializations_for_node("raw__decision_log")
    assert materialization.asset_key == DECISION_LOG_KEY
    metadata = materialization.metadata
    assert metadata["dagster/row_count"].value == 4 and metadata["held_out"].value == 1 and metadata["sent"].value == 1

    con = duckdb.connect(str(warehouse), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    rows = con.execute(
        "select action_id, workflow, state, sent_at, decided_at is not null, policy_version "
        "from raw.decision_log order by action_id"
    ).fetchall()
    con.close()
    assert rows == [
        ("a1", "sequences", "sent", PROPOSED + timedelta(hours=2), True, "p1"),
        ("a2", "sequences", "held_out", None, False, "p1"),
        ("a3", "sla", "proposed", None, False, "p1"),
        ("a4", "sla", "queued", None, True, "p1"),
    ]
    # Replaced wholly on each copy: a second copy has the same four rows, not eight.
    result = dg.materialize([decision_log], resources=resources)
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("select count(*), count(distinct copied_at) from raw.decision_log").fetchone() == (4, 1)
    con.close()


def test_a_failed_copy_keeps_the_previous_log(tmp_path, store):
    warehouse = duckdb.connect(str(tmp_path / "w.duckdb"))
    engine = open_store(store)
    assert copy_decision_log(engine, warehouse).rows == 4
    engine.dispose()
    broken = open_store(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    with broken.begin() as con:
        con.exec_driver_sql("drop table sync_outbox")
    with pytest.raises(sa.exc.OperationalError):
        copy_decision_log(broken, warehouse)
    broken.dispose()
    assert warehouse.execute("select count(*) from raw.decision_log").fetchone()[0] == 4
    warehouse.close()


def _log_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(f"select * from {TABLE} order by action_id").fetchall()


def test_times_read_as_sqlite_text_equal_the_typed_copy(tmp_path, store):
    """SQLite's times are read as text and cast by DuckDB: the same rows as read through the SQLAlchemy types, for
    microseconds, whole seconds, NULLs, the first of several sends and a split; a text of another form (which the
    types read leniently) makes the copy go the typed way, with the same result."""
    engine = open_store(store)
    whole_second, split_at = PROPOSED + timedelta(hours=5), PROPOSED + timedelta(hours=6, microseconds=123456)
    with engine.begin() as con:
        con.execute(
            actions.insert(),
            [_action("a5", "merges", "sent", decided_at=whole_second), _action("a6", "sla", "expired")],
        )
        con.execute(sync_outbox.insert(), [_outbox("o4", "a5", "sent", PROPOSED + timedelta(microseconds=7))])
        con.execute(
            action_events.insert(),
            [
                {"action_id": "a5", "at": split_at, "actor": "Ann", "event": "split", "to_state": "sent"},
                {
                    "action_id": "a5",
                    "at": split_at + timedelta(days=1),
                    "actor": "Ann",
                    "event": "split",
                    "to_state": "sent",
                },
                {"action_id": "a1", "at": split_at, "actor": "Ann", "event": "approved", "to_state": "queued"},
            ],
        )
    now = datetime(2026, 11, 5, 8, 30, 1, 654321, tzinfo=UTC)
    typed, text = duckdb.connect(), duckdb.connect()
    text.execute("set TimeZone = 'America/New_York'")  # the cast reads the text at UTC whatever the session's zone
    assert _copy(engine, typed, now, text_times=False) == _copy(engine, text, now, text_times=True)
    rows = _log_rows(typed)
    assert rows == _log_rows(text)
    assert [r[11:13] for r in rows if r[0] == "a5"] == [(PROPOSED + timedelta(microseconds=7), split_at)]
    assert sum(r[10] is not None for r in rows) == 3
    assert {r[-1] for r in rows} == {now}

    # '…T…' and one digit of a second's fraction: SQLAlchemy reads them, the text path does not take them. (Written
    # by hand, with no audit event: only a full copy reads it.)
    with engine.begin() as con:
        con.exec_driver_sql("update actions set decided_at = '2026-11-02T10:00:00.5' where action_id = 'a6'")
    with pytest.raises(_UnusualTime):
        _copy(engine, text, now, text_times=True, full=True)
    assert _log_rows(text) == rows  # rolled back
    copy_decision_log(engine, text, now=now, full=True)
    _copy(engine, typed, now, text_times=False, full=True)
    assert _log_rows(text) == _log_rows(typed)
    assert [r[10] for r in _log_rows(text) if r[0] == "a6"] == [datetime(2026, 11, 2, 10, 0, 0, 500000, tzinfo=UTC)]
    engine.dispose()


def test_customer_facing_action_types_of_the_outcome_marts_follow_the_catalog():
    """Unsubscribe compliance counts the action types a customer sees: the dbt var must match the catalog."""
    project = yaml.safe_load((DBT_PROJECT / "dbt_project.yml").read_text())
    configured = set(project["vars"]["outcome_customer_facing_action_types"])
    assert configured == {t.name for t in ACTION_TYPES.values() if t.customer_facing}


def _warehouse_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(f"select * from {TABLE} order by action_id").fetchall()


def _send(engine: sa.Engine, queue, action_id: str, at: datetime, outbox_id: str | None = None) -> None:
    """What the sync engine's `_record` writes for a request the CRM took: the outbox row's send and its sync log row
    in one transaction (the action moves to `sent` in the next one)."""
    from ops_store.schema import sync_log

    with engine.begin() as con:
        con.execute(sync_outbox.insert(), [_outbox(outbox_id or action_id, action_id, "sent", at)])
        con.execute(
            sync_log.insert(),
            [
                {
                    "at": at,
                    "run_id": "sync-1",
                    "connection": "hubspot@test",
                    "sync": "action",
                    "action_id": action_id,
                    "object_type": "tasks",
                    "request_kind": "create",
                    "status": "sent",
                    "attempt": 1,
                }
            ],
        )


def test_a_copy_of_the_changes_equals_a_full_copy(ops_store_url, tmp_path, monkeypatch):
    """Copy after copy, only the actions the store's logs name since the last one are read again, and the table is
    every time the one a full copy makes (every column, copied_at too): new actions, approvals, rejections, sends (the
    first of two), a split, expiry, the next plan's withdrawals, an hour with no change. A copy follows on only from a
    copy of this store as it was: a deleted action, a store replaced by another, a warehouse table of other columns
    or another copy version make a full copy."""
    from planning_fixtures import busy_world, busy_world_an_hour_later

    from actions.decision_log import MARKS_TABLE
    from actions.planner import StoreView, apply_plan, plan
    from actions.policy import load_policy
    from actions.queue import DecisionQueue
    from actions.states import State

    policy = load_policy()
    clock = [datetime.now(UTC)]
    engine = open_store(ops_store_url)
    queue = DecisionQueue(engine, policy, clock=lambda: clock[0])
    incremental, reference = duckdb.connect(str(tmp_path / "inc.duckdb")), duckdb.connect()

    def planned(world) -> None:
        clock[0] += timedelta(minutes=1)
        result = plan(world, policy, StoreView.read(engine, policy, clock[0]), now=clock[0], run_id=f"r{clock[0]}")
        apply_plan(result, engine, policy)

    def copied(full: bool = False):
        clock[0] += timedelta(hours=1)
        report = copy_decision_log(engine, incremental, now=clock[0])
        expected = copy_decision_log(engine, reference, now=clock[0], full=True)
        assert _warehouse_rows(incremental) == _warehouse_rows(reference)
        assert (report.rows, report.sent, report.split, report.held_out) == (
            expected.rows,
            expected.sent,
            expected.split,
            expected.held_out,
        )
        assert report.full == full, report
        return report

    planned(busy_world())
    assert copied(full=True).rows >= 6
    # A small queue: most of it changes at each step, which would make every copy a whole one.
    monkeypatch.setattr(decision_log_module, "WHOLE_SHARE", 1.0)
    assert copied().changed == 0  # no change: copied_at alone moves
    listed = queue.list(limit=None)
    proposed = [a for a in listed if a.state == State.PROPOSED]
    auto = [a for a in listed if a.state == State.APPROVED]
    merge = next(a for a in proposed if a.action_type == "merge_contacts")
    queue.approve(merge.action_id, actor="Dana Steward")
    other = next(a for a in proposed if a.action_id != merge.action_id)
    queue.reject(other.action_id, actor="Ada Admin", note="no")
    assert copied().changed == 2
    for item in (merge, auto[0]):
        queue.transition(item.action_id, State.QUEUED, actor="sync")
        _send(engine, queue, item.action_id, clock[0] + timedelta(minutes=5))
        queue.transition(item.action_id, State.SENT, actor="sync")
    # A second request of the same action sent later: the first send still counts; then one sent earlier.
    _send(engine, queue, merge.action_id, clock[0] + timedelta(minutes=30), outbox_id="again")
    copied()
    _send(engine, queue, auto[0].action_id, clock[0] - timedelta(days=1), outbox_id="earlier")
    assert copied().changed == 1
    queue.record_split(merge.action_id, actor="Dana Steward", reason="two people")
    assert copied().split == 1
    clock[0] += timedelta(days=30)  # every open proposal past its expiry
    assert queue.expire_due() >= 1
    copied()
    planned(busy_world_an_hour_later())  # new proposals (and withdrawals of the open ones, if any)
    copied()

    if engine.dialect.name == "postgresql":
        # A change whose transaction is still open at a copy while a later one has committed (PostgreSQL hands out
        # the event's id at its insert): the copy sees a gap below the newest id, and the next one reads it.
        late, early = listed[-1], listed[-2]

        def edited(con, item) -> None:
            con.execute(
                actions.update()
                .where(actions.c.action_id == item.action_id)
                .values(owner=f"Zed {item.action_id}", updated_at=clock[0], row_version=actions.c.row_version + 1)
            )
            con.execute(
                action_events.insert().values(
                    action_id=item.action_id, at=clock[0], actor="x", event="edited", to_state=item.state.value
                )
            )

        with engine.connect() as slow:
            with slow.begin():
                edited(slow, late)
                with engine.begin() as fast:
                    edited(fast, early)
                assert copied().changed == 1
            assert copied().changed == 1

    # More than the share of the table's rows changed: copied whole.
    monkeypatch.setattr(decision_log_module, "WHOLE_SHARE", 0.0)
    _send(engine, queue, auto[0].action_id, clock[0], outbox_id="third")
    copied(full=True)
    monkeypatch.setattr(decision_log_module, "WHOLE_SHARE", 1.0)
    # An action written with no audit event (no writer of Actionhouse does): the count differs, copied whole.
    with engine.begin() as con:
        con.execute(actions.insert(), [_action("zz-no-event", "sla", "proposed")])
    copied(full=True)
    copied()
    # The warehouse's table of other columns, or marks of another copy version: copied whole.
    incremental.execute(f"alter table {TABLE} add column extra varchar")
    copied(full=True)
    incremental.execute(f"update {MARKS_TABLE} set marks = replace(marks, '\"version\": 1', '\"version\": 0')")
    copied(full=True)
    engine.dispose()

    # Another store (rebuilt from scratch) in place of this one: its logs' rows at the marks are not the same.
    engine = open_store(f"sqlite:///{tmp_path / 'rebuilt.sqlite'}")
    queue = DecisionQueue(engine, policy, clock=lambda: clock[0])
    planned(busy_world())
    planned(busy_world_an_hour_later())
    copied(full=True)
    backup = tmp_path / "backup.sqlite"
    engine.dispose()
    backup.write_bytes((tmp_path / "rebuilt.sqlite").read_bytes())
    queue.approve(next(a for a in queue.list(limit=None) if a.state == State.PROPOSED).action_id, actor="Ada Admin")
    copied()
    # Restored from the backup, then another decision (its event takes the id the copied one had): copied whole.
    engine.dispose()
    (tmp_path / "rebuilt.sqlite").write_bytes(backup.read_bytes())
    engine = open_store(f"sqlite:///{tmp_path / 'rebuilt.sqlite'}")
    queue = DecisionQueue(engine, policy, clock=lambda: clock[0])
    queue.reject(next(a for a in queue.list(limit=None) if a.state == State.PROPOSED).action_id, actor="Ada Admin")
    copied(full=True)
    engine.dispose()
