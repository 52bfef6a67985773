"""Read cursors of CRM ingestion, kept in the operational store (`ops_store`; SQLite by default)."""

from __future__ import annotations

import sqlalchemy as sa

from ops_store import open_store
from ops_store.schema import crm_read_cursors as CURSORS
from ops_store.schema import utc_now


class CursorStore:
    """Where each (CRM connection, object type) read stopped; written only after its rows are stored."""

    def __init__(self, url: str) -> None:
        self.engine = open_store(url)

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
        now = utc_now()
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
