"""Dagster resources: the DuckDB warehouse, the operational store and the dbt CLI."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TypeVar

import dagster as dg
import duckdb
import sqlalchemy as sa

from landing.warehouse import connect as connect_warehouse
from ops_store import OPS_DB_ENV, default_ops_db_url, open_store
from orchestration.settings import resolve_paths

_log = logging.getLogger("actionhouse.warehouse")
_T = TypeVar("_T")

# Work reading the warehouse on a thread of this process while later steps run (`read_meanwhile`). DuckDB refuses
# a read-write connection to a file this process has open read-only, so a step opening the warehouse for writing
# waits for that work first.
_readers_lock = threading.Lock()
_readers: list[Future] = []


def read_meanwhile(work: Callable[[], _T], name: str) -> Future[_T]:
    """Run `work` (which opens the warehouse read-only, if at all) on a thread of its own and return its future;
    until it ends, `WarehouseResource.connect(read_only=False)` in this process waits for it."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    future = executor.submit(work)
    executor.shutdown(wait=False)  # the thread ends with the work
    with _readers_lock:
        _readers[:] = [reader for reader in _readers if not reader.done()]
        _readers.append(future)
    return future


def wait_for_readers_meanwhile() -> None:
    """Wait until the work `read_meanwhile` started in this process has ended (whether it failed or not)."""
    with _readers_lock:
        running = [reader for reader in _readers if not reader.done()]
    if running:
        _log.info("waiting for %d warehouse reader(s) running meanwhile before writing", len(running))
        wait(running)


class WarehouseResource(dg.ConfigurableResource):
    """The analytical DuckDB file and the landing folder it is filled from.

    Connections are opened per step and closed at once: DuckDB lets only one process hold the file.
    """

    database_path: str
    landing_dir: str

    @classmethod
    def from_environment(cls) -> WarehouseResource:
        """Build the resource from `ACTIONHOUSE_*` variables or the embedded defaults."""
        paths = resolve_paths()
        return cls(database_path=str(paths.warehouse), landing_dir=str(paths.landing_dir))

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the warehouse for the length of a `with` block (a UTC session; a file another process holds is
        waited for, see `landing.warehouse`; for writing, once this process's readers meanwhile have ended)."""
        if not read_only:
            wait_for_readers_meanwhile()
        con = connect_warehouse(self.database_path, read_only=read_only, on_wait=_log.warning)
        try:
            yield con
        finally:
            con.close()


class OpsStoreResource(dg.ConfigurableResource):
    """The operational store (decision queue, suppression list, kill switch, cursors): any SQLAlchemy URL.

    The URL can hold a password, so it comes from the `ACTIONHOUSE_OPS_DB` environment variable at run time
    (never shown in the UI); without it, the SQLite file in the data folder.
    """

    url: str

    @classmethod
    def from_environment(cls) -> OpsStoreResource:
        """`ACTIONHOUSE_OPS_DB` (read at run time) if set, else `sqlite:///<data dir>/operations.sqlite`."""
        import os

        if os.environ.get(OPS_DB_ENV, "").strip():
            return cls(url=dg.EnvVar(OPS_DB_ENV))
        return cls(url=default_ops_db_url(resolve_paths().data_dir))

    def engine(self) -> sa.Engine:
        """An engine on the store, its schema migrated to the latest version (dispose it after the step)."""
        return open_store(self.url)

    @contextmanager
    def engine_for_step(self) -> Iterator[sa.Engine]:
        """`engine()` for a `with` block, disposed when the block ends, whether it ends well or not."""
        engine = self.engine()
        try:
            yield engine
        finally:
            engine.dispose()
