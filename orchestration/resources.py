"""Dagster resources: the DuckDB warehouse and the dbt CLI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.settings import resolve_paths


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
        """Open the warehouse for the length of a `with` block."""
        Path(self.database_path).parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(self.database_path, read_only=read_only)
        try:
            yield con
        finally:
            con.close()
