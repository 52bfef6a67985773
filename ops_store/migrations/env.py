"""Alembic environment of the operational store: runs on the connection `ops_store.engine.upgrade` passes in,
or, from the `alembic` command line, on `ACTIONHOUSE_OPS_DB` (default: the data folder's SQLite file)."""

from alembic import context

from ops_store.schema import metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    """Online migrations only: the store is always reachable where Actionhouse runs."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    import os
    from pathlib import Path

    import sqlalchemy as sa

    from ops_store.engine import ops_db_url_from_env

    engine = sa.create_engine(ops_db_url_from_env(Path(os.environ.get("ACTIONHOUSE_DATA_DIR", "data"))))
    with engine.begin() as connection:
        _run(connection)


run_migrations()
