"""The dbt-duckdb plugin that prepares dbt's process and DuckDB connection for Actionhouse's models.

Declared in `dbt_project/profiles.yml` (`plugins: [{module: landing.dbt_plugin}]`); dbt-duckdb imports it once, in
dbt's main thread, before any model runs, and calls `configure_connection` on the connection every model, test and
unit test runs on. It adds `phone_e164(text, region)` (`landing.phones`), which the `normalize_phone` macro calls,
and sets DuckDB's memory limit as every warehouse session does (`landing.warehouse.limit_memory`).

It also imports, up front, the libraries the dbt Python models import (`PYTHON_MODEL_IMPORTS`). dbt runs models on
several threads, and two Python models importing modules of the same package at the same moment can stop one of
them with Python's "deadlock detected by _ModuleLock" error (seen on a fresh build: `matching.junk` imported by two
models at once). Imported here first, the models' own imports find them loaded and take no import locks.
"""

from __future__ import annotations

import importlib

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from landing import phones
from landing.warehouse import limit_memory

# Every module a model under dbt_project/models imports from this project's libraries (a test keeps this complete).
PYTHON_MODEL_IMPORTS = (
    "landing.chunks",
    "landing.warehouse",
    "matching.accounts",
    "matching.contacts",
    "matching.junk",
    "matching.reference",
    "matching.resolve",
    "matching.survivorship",
    "ml.config",
    "ml.features",
    "ml.warehouse",
)


def import_model_libraries() -> None:
    """Import what the Python models import, in the calling thread (see the module docstring)."""
    for module in PYTHON_MODEL_IMPORTS:
        importlib.import_module(module)


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict) -> None:
        import_model_libraries()

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        phones.register(conn)
        limit_memory(conn)
