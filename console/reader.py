"""Reading the latest complete publication while refreshes keep replacing it.

Each request gets a cursor on the publication file as it was when the request started. When the file has been
swapped (a new inode), the next request opens the new one; requests already running finish on the old one,
which stays readable until its connection closes (POSIX keeps a renamed-over file alive while it is open).

The file is attached to a private in-memory database rather than opened with `duckdb.connect(path)`: DuckDB
caches databases by path within a process, which would keep serving the first file after a swap.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb

# Older publications kept open for requests still reading them; closed once this many newer ones exist.
KEEP_PREVIOUS = 2


class NoPublication(Exception):
    """No refresh has published the console's tables yet."""


class PublicationReader:
    """Cursors on the latest publication at `path` (thread-safe; one DuckDB database per published file)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._current: tuple[tuple[int, int], duckdb.DuckDBPyConnection] | None = None
        self._previous: list[duckdb.DuckDBPyConnection] = []

    def _identity(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    def _open(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(":memory:")
        con.execute("set threads = 2")
        con.execute("SET TimeZone = 'UTC'")  # as every warehouse session (landing.warehouse)
        path = str(self.path).replace("'", "''")
        con.execute(f"attach '{path}' as pub (read_only)")
        con.execute("use pub")
        return con

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the newest publication (`NoPublication` when none exists yet)."""
        identity = self._identity()
        with self._lock:
            if identity is None and self._current is None:
                raise NoPublication(f"no publication at {self.path} yet")
            if identity is not None and (self._current is None or self._current[0] != identity):
                try:
                    con = self._open()
                except duckdb.Error:
                    # Swapped again between stat and open, or unreadable: keep serving the one we have.
                    if self._current is None:
                        raise
                else:
                    # The file we stat-ed may already be replaced by a newer one; the identity is refreshed
                    # on the next request either way.
                    if self._current is not None:
                        self._previous.append(self._current[1])
                    self._current = (identity, con)
                    while len(self._previous) > KEEP_PREVIOUS:
                        self._previous.pop(0).close()
            cursor = self._current[1].cursor()
        cursor.execute("use pub")  # each cursor starts in the in-memory catalog
        return cursor

    def close(self) -> None:
        """Close every open publication."""
        with self._lock:
            for con in self._previous:
                con.close()
            self._previous.clear()
            if self._current is not None:
                self._current[1].close()
                self._current = None
