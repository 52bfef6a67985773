"""Shared fixtures: a prepared dbt manifest, and warehouses in temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never touch the checkout's data/ folder: everything lives under pytest's tmp_path.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """Parse the dbt project once per test session (definitions need the manifest to load)."""
    from orchestration.dbt import prepare_dbt_manifest

    return prepare_dbt_manifest()


@pytest.fixture(scope="session")
def actionhouse_defs(dbt_manifest, tmp_path_factory):
    """The whole Definitions object, loaded the way `dg dev` loads it, with paths in a temporary folder."""
    data_dir = tmp_path_factory.mktemp("defs_data")
    os.environ["ACTIONHOUSE_DATA_DIR"] = str(data_dir)
    from orchestration.definitions import defs

    return defs()


@pytest.fixture
def warehouse(tmp_path):
    """A warehouse resource on a fresh DuckDB file and landing folder under tmp_path."""
    from orchestration.resources import WarehouseResource

    landing = tmp_path / "landing"
    landing.mkdir()
    return WarehouseResource(database_path=str(tmp_path / "warehouse.duckdb"), landing_dir=str(landing))
