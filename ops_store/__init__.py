"""The operational store: what people and syncs write while the warehouse refreshes.

Decision queue and its audit log, suppression list, kill switch, planner runs and CRM read cursors (later the
sync outbox and ledger) live here, in one transactional database reached by a SQLAlchemy URL
(`ACTIONHOUSE_OPS_DB`; SQLite file by default, PostgreSQL in production). Its schema is created and upgraded
only by the Alembic migrations in `ops_store/migrations/`; `schema.py` describes the same tables for queries.

    engine = open_store("sqlite:///data/operations.sqlite")   # upgrades the schema to the latest migration
"""

from ops_store.engine import OPS_DB_ENV, default_ops_db_url, open_store, ops_db_url_from_env, redact_url

__all__ = ["OPS_DB_ENV", "default_ops_db_url", "open_store", "ops_db_url_from_env", "redact_url"]
