"""Dagster's embedded SQLite event log, with its database connections kept open instead of opened per write."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

# Run databases kept open at once besides the index: a refresh writes one, and reads a few others at most.
OPEN_RUN_DATABASES = 4


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log (the same files, tables and rows as its default storage), keeping one open
    connection per database instead of opening and closing one for every read and write.

    Why: closing a database's last connection checkpoints its write-ahead log into the database file, a disk
    sync. A refresh stores ~900 events (planned models and checks, outputs, materializations, check results),
    each in the run's database and most of them also in the index database, 2-4 connections an event: 10-60 ms
    an event on this machine's disk, ~10-30 s of every refresh whatever its size. With the connections kept open
    the write-ahead log is checkpointed by SQLite every 1,000 pages and when the storage is disposed.

    A UI following a running run watches its database file for changes, which with the log checkpointed less
    often come later: every write to a run's database therefore touches the file (its modification time)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        # Set first: a new folder's index is created (and reindexed) through `_connect` in Dagster's __init__.
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._changes: dict[str, int] = {}  # SQLite's count of changed rows per open run database, last seen
        super().__init__(base_dir, inst_data)

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
        self._engines[shard] = engine
        runs = [name for name in self._engines if name != INDEX_SHARD_NAME]
        for name in runs[: max(0, len(runs) - OPEN_RUN_DATABASES)]:
            self._engines.pop(name).dispose()
            self._changes.pop(name, None)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            with self._engine(shard).connect() as conn:
                with conn.begin():
                    yield conn
                wrote = conn.connection.dbapi_connection.total_changes
            if shard != INDEX_SHARD_NAME and wrote != self._changes.get(shard):
                self._changes[shard] = wrote
                os.utime(self.path_for_shard(shard))

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


# Keys of dagster.yaml that choose the instance's storage; without any of them it is the embedded SQLite default.
STORAGE_KEYS = ("storage", "run_storage", "event_log_storage", "schedule_storage")


def open_instance(dagster_home: Path) -> dg.DagsterInstance:
    """The Dagster instance of `dagster_home` (its dagster.yaml), as `DagsterInstance.get()` opens it, except that
    the embedded SQLite event log is `PooledSqliteEventLogStorage`, in the same folder. An instance whose
    dagster.yaml chooses its storage (PostgreSQL, say) is opened as configured."""
    config_file = dagster_home / "dagster.yaml"
    config = (yaml.safe_load(config_file.read_text()) if config_file.exists() else None) or {}
    overrides = {}
    if not any(key in config for key in STORAGE_KEYS):
        overrides["event_log_storage"] = {
            "module": __name__,
            "class": PooledSqliteEventLogStorage.__name__,
            # Dagster's default place for the embedded event log (`InstanceRef.config_defaults`).
            "config": {"base_dir": str(dagster_home / "history" / "runs")},
        }
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home), overrides=overrides))
