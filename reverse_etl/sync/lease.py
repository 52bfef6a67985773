"""One sync at a time per CRM connection: a lease row in the operational store.

A holder renews the lease as it works; one that stops (killed, machine gone) loses it when `expires_at` passes.
A holder on this machine whose process is gone loses it at once, so a restart after `kill -9` does not wait.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from ops_store.schema import sync_leases, utc_now


class LeaseHeld(RuntimeError):
    """Another sync holds this CRM connection's lease."""


def holder_name() -> str:
    """A name for one sync run: `host:pid:nonce` (two runs in one process are two holders)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _holder_gone(holder: str) -> bool:
    parts = holder.split(":")
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = parts[1]
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Lease:
    """`with Lease(engine, connection, ttl):` holds the connection's lease for the block (or raises LeaseHeld)."""

    def __init__(self, engine: sa.Engine, connection: str, ttl_seconds: float = 300.0, holder: str | None = None):
        self.engine = engine
        self.connection = connection
        self.ttl = timedelta(seconds=ttl_seconds)
        self.holder = holder or holder_name()

    def acquire(self) -> None:
        """Take the lease if it is free, expired, ours, or held by a dead process on this machine."""
        now = utc_now()
        with self.engine.begin() as con:
            row = con.execute(
                sa.select(sync_leases.c.holder, sync_leases.c.expires_at).where(
                    sync_leases.c.connection == self.connection
                )
            ).first()
            if row is None:
                try:
                    con.execute(
                        sa.insert(sync_leases).values(
                            connection=self.connection, holder=self.holder, acquired_at=now, expires_at=now + self.ttl
                        )
                    )
                    return
                except sa.exc.IntegrityError:
                    raise LeaseHeld(f"another sync just took the lease on {self.connection}") from None
            holder, expires_at = row
            free = expires_at < now or holder == self.holder or _holder_gone(holder)
            if not free:
                raise LeaseHeld(
                    f"a sync on {self.connection} is already running ({holder}, lease until {expires_at:%H:%M:%S} UTC)"
                )
            updated = con.execute(
                sa.update(sync_leases)
                .where(sync_leases.c.connection == self.connection, sync_leases.c.holder == holder)
                .values(holder=self.holder, acquired_at=now, expires_at=now + self.ttl)
            )
            if updated.rowcount != 1:
                raise LeaseHeld(f"another sync just took the lease on {self.connection}")

    def renew(self) -> None:
        """Push the expiry out; raises LeaseHeld if the lease was lost (another holder took it after expiry)."""
        with self.engine.begin() as con:
            updated = con.execute(
                sa.update(sync_leases)
                .where(sync_leases.c.connection == self.connection, sync_leases.c.holder == self.holder)
                .values(expires_at=utc_now() + self.ttl)
            )
        if updated.rowcount != 1:
            raise LeaseHeld(f"lost the lease on {self.connection}: another sync took over")

    def release(self) -> None:
        """Give the lease up (expire it now)."""
        with self.engine.begin() as con:
            con.execute(
                sa.update(sync_leases)
                .where(sync_leases.c.connection == self.connection, sync_leases.c.holder == self.holder)
                .values(expires_at=utc_now() - timedelta(seconds=1))
            )

    def holder_now(self) -> tuple[str, datetime] | None:
        """Who holds (or last held) the lease, and until when."""
        with self.engine.connect() as con:
            row = con.execute(
                sa.select(sync_leases.c.holder, sync_leases.c.expires_at).where(
                    sync_leases.c.connection == self.connection
                )
            ).first()
        return (row[0], row[1]) if row else None

    def __enter__(self) -> Lease:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
