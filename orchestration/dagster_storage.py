"""Dagster's embedded SQLite event log, with its database connections kept open instead of opened per write."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

# Run databases kept open at once besides the index: a refresh writes one, and reads a few others at most.
OPEN_RUN_DATABASES = 4

# Dagster's switch for writing events in batches (read at each event; 0 or unset: one write per event).
EVENT_BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
# Events per batch when `open_instance` turns batching on: a refresh's planned events (~370) in one batch.
EVENT_BATCH_SIZE = 1000


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log (the same files, tables and rows as its default storage), keeping one open
    connection per database instead of opening and closing one for every read and write.

    Why: closing a database's last connection checkpoints its write-ahead log into the database file, a disk
    sync. A refresh stores ~900 events (planned models and checks, outputs, materializations, check results),
    each in the run's database and most of them also in the index database, 2-4 connections an event: 10-60 ms
    an event on this machine's disk, ~10-30 s of every refresh whatever its size. With the connections kept open
    the write-ahead log is checkpointed by SQLite every 1,000 pages and when the storage is disposed.

    A UI following a running run watches its database file for changes, which with the log checkpointed less
    often come later: every write to a run's database therefore touches the file (its modification time).

    Each write is then still its own commit with a disk sync (`synchronous=FULL`, Dagster's default), ~4-14 ms
    here. Two ways to sync less, each with the same rows: `store_event_batch` (the batches Dagster sends when batching
    is on: a run's planned events) writes a batch in one transaction per database, and `writes_synced_at_end`
    (around the dbt step's results) commits each write without a sync and syncs once at the block's end.

    What the database's schema has is remembered once seen (`has_table`, `has_secondary_index`, the asset key
    table's columns): Dagster asks again for most events it stores or handles, `has_table` on a new connection each
    time (~1,300 questions an hour, ~0.3 s of CPU). Only what exists is remembered: a migration (`dagster instance
    migrate`) adds tables, columns and completed data migrations, and removes none."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        # Set first: a new folder's index is created (and reindexed) through `_connect` in Dagster's __init__.
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._changes: dict[str, int] = {}  # SQLite's count of changed rows per open run database, last seen
        self._batch: dict[str, Connection] | None = None  # the batch being written: its open transaction per shard
        self._unsynced_blocks = 0  # `writes_synced_at_end` blocks open
        self._schema_seen: set[tuple[str, str]] = set()  # (kind, name) of tables, columns, migrations seen
        super().__init__(base_dir, inst_data)
        # Reentrant: a batch holds the lock while each of its events takes it again in `_connect`.
        self._db_lock = threading.RLock()

    @classmethod
    def from_config_value(  # ty: ignore[invalid-method-override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        """The open engine of a shard (created, and the database initialized, on first use); called under the lock."""
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            poolclass=StaticPool,  # one connection, used under the storage's lock by one thread at a time
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        if self._unsynced_blocks:
            _set_synchronous(engine, "NORMAL")
        self._engines[shard] = engine
        runs = [name for name in self._engines if name != INDEX_SHARD_NAME and name not in (self._batch or ())]
        for name in runs[: max(0, len(runs) - OPEN_RUN_DATABASES)]:
            self._engines.pop(name).dispose()
            self._changes.pop(name, None)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            if self._batch is not None:  # in `store_event_batch`: the batch's transaction on this database
                conn = self._batch.get(shard)
                if conn is None:
                    conn = self._batch[shard] = self._engine(shard).connect()
                    conn.begin()
                yield conn
                return
            with self._engine(shard).connect() as conn:
                with conn.begin():
                    yield conn
                self._touch_if_written(shard, conn)

    def has_table(self, table_name: str) -> bool:
        seen = ("table", table_name)
        if seen not in self._schema_seen and super().has_table(table_name):
            self._schema_seen.add(seen)
        return seen in self._schema_seen

    def has_secondary_index(self, name: str) -> bool:
        seen = ("secondary index", name)
        if seen not in self._schema_seen and super().has_secondary_index(name):
            self._schema_seen.add(seen)
        return seen in self._schema_seen

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        seen = ("asset key column", column_name)
        if seen not in self._schema_seen and super()._has_asset_key_col_on_connection(conn, column_name):
            self._schema_seen.add(seen)
        return seen in self._schema_seen

    def _touch_if_written(self, shard: str, conn: Connection) -> None:
        """Touch a run's database file if `conn` changed rows in it since last seen (for a UI watching the run)."""
        wrote = conn.connection.dbapi_connection.total_changes
        if shard != INDEX_SHARD_NAME and wrote != self._changes.get(shard):
            self._changes[shard] = wrote
            os.utime(self.path_for_shard(shard))

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Store the events as `store_event` stores each (the same statements, so the same rows), in one
        transaction per database instead of one per write: one disk sync per database for the batch.

        If a write fails, nothing of the batch is kept and the error is raised: Dagster then stores the events
        one by one. The run databases commit before the index: should the index's commit fail after them (a full
        disk, say), the run's log would show the batch's events twice, never the index (asset history, check
        results) hold them twice."""
        with self._db_lock:
            self._batch = batch = {}
            try:
                for event in events:
                    self.store_event(event)
                for shard in sorted(batch, key=lambda name: name == INDEX_SHARD_NAME):
                    batch[shard].commit()
            finally:
                self._batch = None
                for shard, conn in batch.items():
                    if conn.in_transaction():  # not committed: a write or a commit before it failed
                        conn.rollback()
                    else:
                        self._touch_if_written(shard, conn)
                    conn.close()

    @contextmanager
    def writes_synced_at_end(self) -> Iterator[None]:
        """Writes in this block commit as usual, each seen at once by other processes, but without a disk sync
        each (SQLite's `synchronous=NORMAL`); the write-ahead logs of the open databases are synced once when the
        block ends. A crash of the process loses nothing; a power loss during the block may lose its last
        commits (the databases stay consistent), as an unwritten batch would be lost."""
        with self._db_lock:
            self._unsynced_blocks += 1
            if self._unsynced_blocks == 1:
                for engine in self._engines.values():
                    _set_synchronous(engine, "NORMAL")
        try:
            yield
        finally:
            with self._db_lock:
                self._unsynced_blocks -= 1
                if not self._unsynced_blocks:
                    for shard, engine in self._engines.items():
                        _set_synchronous(engine, "FULL")
                        _fsync(Path(self.path_for_shard(shard) + "-wal"))

    def _dispose_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()
            self._changes.clear()

    def wipe(self) -> None:
        self._dispose_engines()
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._dispose_engines()


def _set_synchronous(engine: Engine, level: str) -> None:
    """Set SQLite's `synchronous` on the engine's one connection (a StaticPool: the setting stays with it)."""
    with engine.connect() as conn:
        conn.exec_driver_sql(f"PRAGMA synchronous={level}")


def _fsync(path: Path) -> None:
    """Flush a file to disk, as SQLite's commit does with the write-ahead log under `synchronous=FULL`."""
    if path.exists():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def event_writes_synced_at_end(instance: dg.DagsterInstance) -> AbstractContextManager[None]:
    """`PooledSqliteEventLogStorage.writes_synced_at_end` of the instance's event log; with another storage, a
    block that changes nothing."""
    storage = instance.event_log_storage
    return storage.writes_synced_at_end() if isinstance(storage, PooledSqliteEventLogStorage) else nullcontext()


# Keys of dagster.yaml that choose the instance's storage; without any of them it is the embedded SQLite default.
STORAGE_KEYS = ("storage", "run_storage", "event_log_storage", "schedule_storage")


@contextmanager
def open_instance(dagster_home: Path) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance of `dagster_home` (its dagster.yaml), as `DagsterInstance.get()` opens it, except that
    the embedded SQLite event log is `PooledSqliteEventLogStorage`, in the same folder, disposed when the block
    ends. An instance whose dagster.yaml chooses its storage (PostgreSQL, say) is opened as configured.

    With the pooled event log, Dagster's event batching (`DAGSTER_EVENT_BATCH_SIZE`) is on inside the block unless
    the environment sets it: the events Dagster sends as a batch (a run's ~370 planned events) are then one
    transaction per database (`store_event_batch`), not one commit each."""
    config_file = dagster_home / "dagster.yaml"
    config = (yaml.safe_load(config_file.read_text()) if config_file.exists() else None) or {}
    overrides = {}
    pooled = not any(key in config for key in STORAGE_KEYS)
    if pooled:
        overrides["event_log_storage"] = {
            "module": __name__,
            "class": PooledSqliteEventLogStorage.__name__,
            # Dagster's default place for the embedded event log (`InstanceRef.config_defaults`).
            "config": {"base_dir": str(dagster_home / "history" / "runs")},
        }
    batching = pooled and EVENT_BATCH_SIZE_ENV not in os.environ
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home), overrides=overrides)) as instance:
        if batching:
            os.environ[EVENT_BATCH_SIZE_ENV] = str(EVENT_BATCH_SIZE)
        try:
            yield instance
        finally:
            if batching:
                os.environ.pop(EVENT_BATCH_SIZE_ENV, None)
