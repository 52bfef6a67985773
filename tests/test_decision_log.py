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

    # '…T…' and one digit of a second's fraction: SQLAlchemy reads them, the text path does not take them.
    with engine.begin() as con:
        con.exec_driver_sql("update actions set decided_at = '2026-11-02T10:00:00.5' where action_id = 'a6'")
    with pytest.raises(_UnusualTime):
        _copy(engine, text, now, text_times=True)
    assert _log_rows(text) == rows  # rolled back
    copy_decision_log(engine, text, now=now)
    _copy(engine, typed, now, text_times=False)
    assert _log_rows(text) == _log_rows(typed)
    assert [r[10] for r in _log_rows(text) if r[0] == "a6"] == [datetime(2026, 11, 2, 10, 0, 0, 500000, tzinfo=UTC)]
    engine.dispose()


def test_customer_facing_action_types_of_the_outcome_marts_follow_the_catalog():
    """Unsubscribe compliance counts the action types a customer sees: the dbt var must match the catalog."""
    project = yaml.safe_load((DBT_PROJECT / "dbt_project.yml").read_text())
    configured = set(project["vars"]["outcome_customer_facing_action_types"])
    assert configured == {t.name for t in ACTION_TYPES.values() if t.customer_facing}
