"""Dagster resources: the DuckDB warehouse, the operational store and the dbt CLI."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
import sqlalchemy as sa

from landing.warehouse import connect as connect_warehouse
from ops_store import OPS_DB_ENV, default_ops_db_url, open_store
from orchestration.settings import resolve_paths

_log = logging.getLogger("actionhouse.warehouse")


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
        waited for, see `landing.warehouse`)."""
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
