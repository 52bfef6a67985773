"""The refresh's Dagster event log keeps its SQLite connections open, writes Dagster's batches in one transaction
and the dbt step's results with one disk sync: the same rows as Dagster's default storage, still seen by a UI
watching the run, nothing lost when a batch fails, and only for the embedded default (a configured storage is
left alone)."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage

from orchestration import dagster_storage
from orchestration.dagster_storage import (
    EVENT_BATCH_SIZE_ENV,
    PooledSqliteEventLogStorage,
    event_writes_synced_at_end,
    open_instance,
)
from orchestration.settings import DAGSTER_YAML_TEMPLATE


@dg.asset(check_specs=[dg.AssetCheckSpec("has_rows", asset="numbers")])
def numbers():
    """A materialization with metadata and a check result, as a dbt model and its test give."""
    yield dg.Output([1, 2, 3], metadata={"dagster/row_count": 3})
    yield dg.AssetCheckResult(check_name="has_rows", passed=True, metadata={"rows": 3})


@dg.asset(deps=[numbers])
def doubled():
    return dg.MaterializeResult(metadata={"dagster/row_count": 3})


@pytest.fixture(scope="module")
def run_events(tmp_path_factory) -> list:
    """Every event of one run of the two assets, on a default local instance (run once for the module's tests)."""
    home = tmp_path_factory.mktemp("source")
    with dg.DagsterInstance.local_temp(str(home)) as instance:
        result = dg.materialize([numbers, doubled], instance=instance)
        return [r.event_log_entry for r in instance.get_records_for_run(result.run_id).records]


def _rows(folder: Path) -> dict[str, list]:
    """Every row of every table of every database in an event log folder, without the columns that say when
    a row was written (`create_timestamp`, `last_materialization_timestamp`, `migration_completed`, ...)."""
    rows = {}
    for path in sorted(folder.glob("*.db")):
        with sqlite3.connect(path) as con:
            tables = [name for (name,) in con.execute("select name from sqlite_master where type = 'table'")]
            for table in tables:
                columns = ", ".join(
                    f'"{name}"'
                    for (_, name, kind, *_) in con.execute(f"pragma table_info({table})")
                    if "timestamp" not in name and kind.upper() not in ("DATETIME", "TIMESTAMP")
                )
                rows[f"{path.name}:{table}"] = con.execute(f"select {columns} from {table} order by 1").fetchall()
    return rows


def _store_one_by_one(storage, events) -> None:
    for event in events:
        storage.store_event(event)


def _store_in_one_batch(storage, events) -> None:
    # Every event of the run in one batch (Dagster batches only planned events): the check's result updates the
    # row its planned event inserted earlier in the same transaction.
    storage.store_event_batch(events)


def _store_synced_at_end(storage, events) -> None:
    with storage.writes_synced_at_end():
        for event in events:
            storage.store_event(event)


def test_the_pooled_event_log_stores_the_same_rows_as_dagsters(tmp_path, run_events):
    events = [e._replace(run_id="r" * 32) for e in run_events]
    assert any(e.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION for e in events)
    assert any(e.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED for e in events)
    ways = {
        "default": (SqliteEventLogStorage, _store_one_by_one),
        "pooled": (PooledSqliteEventLogStorage, _store_one_by_one),
        "batch": (PooledSqliteEventLogStorage, _store_in_one_batch),
        "synced_at_end": (PooledSqliteEventLogStorage, _store_synced_at_end),
    }
    for name, (storage_class, store) in ways.items():
        storage = storage_class(str(tmp_path / name))
        store(storage, events)
        storage.dispose()  # the pooled storage checkpoints its write-ahead logs here
    default = _rows(tmp_path / "default")
    assert sum(len(rows) for rows in default.values()) > len(events)
    for name in ways:
        assert _rows(tmp_path / name) == default, name


def test_a_failed_batch_keeps_nothing_and_the_events_stored_one_by_one_give_the_same_rows(
    tmp_path, monkeypatch, run_events
):
    events = [e._replace(run_id="r" * 32) for e in run_events]
    default = SqliteEventLogStorage(str(tmp_path / "default"))
    _store_one_by_one(default, events)
    default.dispose()

    pooled = PooledSqliteEventLogStorage(str(tmp_path / "pooled"))
    pooled.store_event(events[0])  # the run's database exists, with a row, before the batch
    before = _rows(tmp_path / "pooled")
    store_event = PooledSqliteEventLogStorage.store_event

    def fail_late_in_a_batch(self, event):
        if self._batch is not None and event is events[-2]:  # after asset and check rows of the batch
            raise OSError("disk full")
        store_event(self, event)

    monkeypatch.setattr(PooledSqliteEventLogStorage, "store_event", fail_late_in_a_batch)
    with pytest.raises(OSError):
        pooled.store_event_batch(events[1:])
    assert _rows(tmp_path / "pooled") == before  # nothing of the batch kept, in either database
    # What Dagster does next (`handle_new_event`): each event of the batch stored on its own.
    _store_one_by_one(pooled, events[1:])
    pooled.dispose()
    assert _rows(tmp_path / "pooled") == _rows(tmp_path / "default")


def test_writes_synced_at_end_commit_without_a_sync_each_and_sync_the_logs_at_the_end(
    tmp_path, monkeypatch, run_events
):
    events = [e._replace(run_id="r" * 32) for e in run_events]
    synced = []
    monkeypatch.setattr(dagster_storage, "_fsync", lambda path: synced.append(path.name))
    storage = PooledSqliteEventLogStorage(str(tmp_path / "log"))

    def synchronous(shard: str) -> int:
        with storage._engines[shard].connect() as conn:
            return conn.exec_driver_sql("PRAGMA synchronous").scalar()

    storage.store_event(events[0])
    with storage.writes_synced_at_end():
        assert synchronous(INDEX_SHARD_NAME) == 1  # NORMAL
        storage.store_event(events[1]._replace(run_id="s" * 32))  # a database opened inside the block
        assert synchronous("s" * 32) == 1
        assert not synced
        for event in events[2:]:
            storage.store_event(event)
        with sqlite3.connect(tmp_path / "log" / f"{'r' * 32}.db") as other:  # each write is committed at once
            assert other.execute("select count(*) from event_logs").fetchone()[0] == len(events) - 1
    assert {synchronous(shard) for shard in ("r" * 32, "s" * 32, INDEX_SHARD_NAME)} == {2}  # FULL again
    assert sorted(synced) == sorted(f"{shard}.db-wal" for shard in ("r" * 32, "s" * 32, INDEX_SHARD_NAME))
    storage.dispose()


def test_a_watcher_of_the_run_sees_each_write_while_the_connections_stay_open(tmp_path, run_events):
    events = [e for e in run_events if e.dagster_event]
    writer = PooledSqliteEventLogStorage(str(tmp_path / "log"))
    writer.store_event(events[0]._replace(run_id="r" * 32))  # the run's database exists before it is watched
    watcher = SqliteEventLogStorage(str(tmp_path / "log"))  # a UI's storage, in its own process in real life
    seen, arrived = [], threading.Event()

    def on_event(entry, _cursor):
        seen.append(entry)
        arrived.set()

    watcher.watch("r" * 32, None, on_event)
    try:
        for event in events[1:4]:
            arrived.clear()
            writer.store_event(event._replace(run_id="r" * 32))
            assert arrived.wait(10), "the watcher did not see the write"
        assert [e.dagster_event.event_type_value for e in seen[-3:]] == [
            e.dagster_event.event_type_value for e in events[1:4]
        ]
        arrived.clear()
        writer.store_event_batch([event._replace(run_id="r" * 32) for event in events[4:7]])  # after its commit
        assert arrived.wait(10), "the watcher did not see the batch"
    finally:
        watcher.end_watch("r" * 32, on_event)
        watcher.dispose()
        writer.dispose()


def test_open_instance_pools_only_the_embedded_default(tmp_path, monkeypatch):
    monkeypatch.delenv(EVENT_BATCH_SIZE_ENV, raising=False)
    batches = []
    store_event_batch = PooledSqliteEventLogStorage.store_event_batch

    def record(self, events):
        batches.append([event.dagster_event_type for event in events])
        store_event_batch(self, events)

    monkeypatch.setattr(PooledSqliteEventLogStorage, "store_event_batch", record)
    default_home = tmp_path / "default"
    default_home.mkdir()
    (default_home / "dagster.yaml").write_text(DAGSTER_YAML_TEMPLATE.read_text())
    with open_instance(default_home) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        result = dg.materialize([numbers], instance=instance)
        assert result.success
        assert instance.get_settings("telemetry") == {"enabled": False}  # the template still applies
    # Dagster's batching was on in the block, off after it: the run's planned events came in one batch
    planned = {dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED}
    assert len(batches) == 1 and len(batches[0]) == 2 and set(batches[0]) == planned
    assert EVENT_BATCH_SIZE_ENV not in os.environ
    # Dagster's default places: the runs, their event logs, the schedules
    assert (default_home / "history" / "runs.db").exists()
    assert (default_home / "history" / "runs" / f"{result.run_id}.db").exists()
    with dg.DagsterInstance.from_config(str(default_home)) as plain:  # as the UI opens it: the same history
        assert plain.get_latest_materialization_event(dg.AssetKey("numbers")).run_id == result.run_id
    monkeypatch.setenv(EVENT_BATCH_SIZE_ENV, "0")  # the user's setting wins
    with open_instance(default_home):
        assert os.environ[EVENT_BATCH_SIZE_ENV] == "0"

    configured_home = tmp_path / "configured"
    configured_home.mkdir()
    (configured_home / "dagster.yaml").write_text(f"storage:\n  sqlite:\n    base_dir: {tmp_path / 'elsewhere'}\n")
    monkeypatch.delenv(EVENT_BATCH_SIZE_ENV)
    with open_instance(configured_home) as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        assert EVENT_BATCH_SIZE_ENV not in os.environ  # Dagster's batching left as the environment says
        with event_writes_synced_at_end(instance):  # a block that does nothing on another storage
            pass


def test_the_pooled_event_log_asks_once_about_what_the_schema_has_and_again_about_what_it_lacks(
    tmp_path, run_events, monkeypatch
):
    from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

    asked = []
    for cls, name in (
        (SqliteEventLogStorage, "has_table"),
        (SqlEventLogStorage, "has_secondary_index"),
        (SqlEventLogStorage, "_has_asset_key_col_on_connection"),
    ):
        original = getattr(cls, name)

        def counted(self, *args, _original=original, _name=name):
            asked.append((_name, args[-1]))
            return _original(self, *args)

        monkeypatch.setattr(cls, name, counted)
    storage = PooledSqliteEventLogStorage(str(tmp_path / "pooled"))
    asked.clear()  # the questions of Dagster's __init__ (creating the index)
    for run in ("a", "b", "c"):
        _store_one_by_one(storage, [e._replace(run_id=run * 32) for e in run_events])
        assert storage.get_asset_records([dg.AssetKey("numbers")])  # as a step's data versions read them
    assert asked and len(asked) == len(set(asked))  # Dagster's asks again for most events and reads
    assert {"has_table", "has_secondary_index", "_has_asset_key_col_on_connection"} <= {name for name, _ in asked}
    asked.clear()
    assert storage.has_table("asset_check_executions") and not asked
    assert not storage.has_table("no_such_table") and not storage.has_table("no_such_table")
    assert not storage.has_secondary_index("no_such_migration") and not storage.has_secondary_index("no_such_migration")
    assert asked == [("has_table", "no_such_table")] * 2 + [("has_secondary_index", "no_such_migration")] * 2
    storage.dispose()
