"""Opening the operational store: engine settings per backend, and the schema upgrade on open."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

OPS_DB_ENV = "ACTIONHOUSE_OPS_DB"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# SQLite answers "database is locked" at once without a busy timeout; people and syncs write concurrently.
SQLITE_BUSY_TIMEOUT_S = 30
_upgrade_lock = threading.Lock()


def default_ops_db_url(data_dir: Path) -> str:
    """`sqlite:///<data dir>/operations.sqlite` (used when ACTIONHOUSE_OPS_DB is not set)."""
    return f"sqlite:///{Path(data_dir) / 'operations.sqlite'}"


def ops_db_url_from_env(data_dir: Path) -> str:
    """`ACTIONHOUSE_OPS_DB` if set, else the SQLite file in the data folder."""
    return os.environ.get(OPS_DB_ENV, "").strip() or default_ops_db_url(data_dir)


def redact_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest migration's revision id."""
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as con:
        return MigrationContext.configure(con).get_current_revision()


def upgrade(engine: sa.Engine) -> None:
    """Apply every migration the database lacks (a no-op when it is current)."""
    if current_revision(engine) == head_revision():
        return
    with _upgrade_lock, engine.begin() as con:
        config = _alembic_config()
        config.attributes["connection"] = con
        command.upgrade(config, "head")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (a console, `queue list`) read while a planner or sync writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_store(url: str, *, migrate: bool = True) -> sa.Engine:
    """An engine on the operational store at `url`, its schema upgraded to the latest migration.

    SQLite files get their folder created, WAL mode and a busy timeout; every backend gets pre-ping so a
    restarted PostgreSQL server does not break a long-lived console.
    """
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True)
    if migrate:
        upgrade(engine)
    return engine
