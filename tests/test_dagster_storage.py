"""The refresh's Dagster event log keeps its SQLite connections open: the same rows as Dagster's default storage,
still seen by a UI watching the run, and only for the embedded default (a configured storage is left alone)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from orchestration.dagster_storage import PooledSqliteEventLogStorage, open_instance
from orchestration.settings import DAGSTER_YAML_TEMPLATE


@dg.asset(check_specs=[dg.AssetCheckSpec("has_rows", asset="numbers")])
def numbers():
    """A materialization with metadata and a check result, as a dbt model and its test give."""
    yield dg.Output([1, 2, 3], metadata={"dagster/row_count": 3})
    yield dg.AssetCheckResult(check_name="has_rows", passed=True, metadata={"rows": 3})


@dg.asset(deps=[numbers])
def doubled():
    return dg.MaterializeResult(metadata={"dagster/row_count": 3})


def _events_of_a_run(home: Path) -> list:
    """Every event of one run of the two assets, on a default local instance."""
    home.mkdir()
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


def test_the_pooled_event_log_stores_the_same_rows_as_dagsters(tmp_path):
    events = _events_of_a_run(tmp_path / "source")
    assert any(e.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION for e in events)
    for name, storage_class in (("default", SqliteEventLogStorage), ("pooled", PooledSqliteEventLogStorage)):
        storage = storage_class(str(tmp_path / name))
        for event in events:
            storage.store_event(event._replace(run_id="r" * 32))
        storage.dispose()  # the pooled storage checkpoints its write-ahead logs here
    pooled, default = _rows(tmp_path / "pooled"), _rows(tmp_path / "default")
    assert pooled == default
    assert sum(len(rows) for rows in pooled.values()) > len(events)


def test_a_watcher_of_the_run_sees_each_write_while_the_connections_stay_open(tmp_path):
    events = [e for e in _events_of_a_run(tmp_path / "source") if e.dagster_event]
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
    finally:
        watcher.end_watch("r" * 32, on_event)
        watcher.dispose()
        writer.dispose()


def test_open_instance_pools_only_the_embedded_default(tmp_path):
    default_home = tmp_path / "default"
    default_home.mkdir()
    (default_home / "dagster.yaml").write_text(DAGSTER_YAML_TEMPLATE.read_text())
    with open_instance(default_home) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        result = dg.materialize([numbers], instance=instance)
        assert result.success
        assert instance.get_settings("telemetry") == {"enabled": False}  # the template still applies
    # Dagster's default places: the runs, their event logs, the schedules
    assert (default_home / "history" / "runs.db").exists()
    assert (default_home / "history" / "runs" / f"{result.run_id}.db").exists()
    with dg.DagsterInstance.from_config(str(default_home)) as plain:  # as the UI opens it: the same history
        assert plain.get_latest_materialization_event(dg.AssetKey("numbers")).run_id == result.run_id

    configured_home = tmp_path / "configured"
    configured_home.mkdir()
    (configured_home / "dagster.yaml").write_text(f"storage:\n  sqlite:\n    base_dir: {tmp_path / 'elsewhere'}\n")
    with open_instance(configured_home) as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
