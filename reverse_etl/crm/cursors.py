"""Read cursors of CRM ingestion, kept in the operational store (SQLite via SQLAlchemy by default)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

_METADATA = sa.MetaData()
CURSORS = sa.Table(
    "crm_read_cursors",
    _METADATA,
    sa.Column("connection", sa.String, primary_key=True),  # e.g. "hubspot@127.0.0.1:8765" (never a token)
    sa.Column("object_type", sa.String, primary_key=True),
    sa.Column("cursor", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)


def default_ops_db_url(data_dir: Path) -> str:
    """`sqlite:///<data dir>/operations.sqlite` (used when ACTIONHOUSE_OPS_DB is not set)."""
    return f"sqlite:///{Path(data_dir) / 'operations.sqlite'}"


class CursorStore:
    """Where each (CRM connection, object type) read stopped; written only after its rows are stored."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(url)
        _METADATA.create_all(self.engine, tables=[CURSORS])

    def get(self, connection: str, object_type: str) -> str | None:
        """The saved cursor, or None before the first read."""
        with self.engine.connect() as con:
            return con.execute(
                sa.select(CURSORS.c.cursor).where(
                    CURSORS.c.connection == connection, CURSORS.c.object_type == object_type
                )
            ).scalar_one_or_none()

    def set(self, connection: str, object_type: str, cursor: str) -> None:
        """Save (insert or replace) a cursor."""
        now = datetime.now(UTC).replace(tzinfo=None)
        with self.engine.begin() as con:
            updated = con.execute(
                sa.update(CURSORS)
                .where(CURSORS.c.connection == connection, CURSORS.c.object_type == object_type)
                .values(cursor=cursor, updated_at=now)
            )
            if updated.rowcount == 0:
                con.execute(
                    sa.insert(CURSORS).values(
                        connection=connection, object_type=object_type, cursor=cursor, updated_at=now
                    )
                )

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()
