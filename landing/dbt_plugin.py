"""The dbt-duckdb plugin that adds Actionhouse's Python functions to dbt's DuckDB connection.

Declared in `dbt_project/profiles.yml` (`plugins: [{module: landing.dbt_plugin}]`); dbt-duckdb imports it and calls
`configure_connection` on the connection every model, test and unit test runs on. It adds `phone_e164(text,
region)` (`landing.phones`), which the `normalize_phone` macro calls.
"""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from landing import phones


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        phones.register(conn)
