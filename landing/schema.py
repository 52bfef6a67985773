"""DDL for the raw layer: one table per landing source plus the load bookkeeping tables."""

from __future__ import annotations

import duckdb

from landing.contract import SOURCES, SourceSpec

__all__ = ["LOAD_FILES_TABLE", "QUARANTINE_TABLE", "ensure_raw_schema", "raw_columns"]

LOAD_FILES_TABLE = "raw.load_files"
QUARANTINE_TABLE = "raw.quarantine_rows"

_LOAD_FILES_DDL = f"""
CREATE TABLE IF NOT EXISTS {LOAD_FILES_TABLE} (
    file_id BIGINT,
    source VARCHAR,
    path VARCHAR,
    sha256 VARCHAR,
    size_bytes BIGINT,
    status VARCHAR,
    rows_loaded BIGINT,
    rows_accepted BIGINT,
    rows_quarantined BIGINT,
    error VARCHAR,
    loaded_at TIMESTAMP,
    delimiter VARCHAR,
    encoding VARCHAR,
    line_ending VARCHAR,
    modified_ns BIGINT
)"""
# How each file was saved (added after the first release: older warehouses get them by ALTER TABLE).
_LOAD_FILES_DIALECT_COLUMNS = ("delimiter", "encoding", "line_ending")
# The file's modification time (ns) when it loaded: with its path and size, a file seen again unchanged is skipped
# without reading it (added later: older warehouses get it by ALTER TABLE; their files are hashed once more).
_LOAD_FILES_STAMP_COLUMN = "modified_ns"

_QUARANTINE_DDL = f"""
CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} (
    file_id BIGINT,
    source VARCHAR,
    path VARCHAR,
    line BIGINT,
    reason VARCHAR,
    raw_text VARCHAR,
    quarantined_at TIMESTAMP,
    byte_offset BIGINT,
    byte_length BIGINT
)"""
# Where each quarantined row sits in its landing file, so its exact bytes can be read back (added later: older
# warehouses get them by ALTER TABLE).
_QUARANTINE_BYTE_RANGE_COLUMNS = ("byte_offset", "byte_length")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# A JSON lines row's whole line (``payload``) is the raw table's largest column, kept for audits and read by no model
# (they read the projected columns). DuckDB's default for text, a dictionary with FSST, spends more than a third of a
# JSON lines load's insert finding that every line differs; zstd writes the same values in about a third less time and
# half the room, and reads them back as fast (docs/scaling.md). Storage only: the values, types and columns are the
# same. A table created before keeps its default compression.
_COLUMN_COMPRESSION = {"payload": "zstd"}


def _storage(name: str) -> str:
    compression = _COLUMN_COMPRESSION.get(name)
    return f" USING COMPRESSION {compression}" if compression else ""


def raw_columns(spec: SourceSpec) -> list[tuple[str, str]]:
    """``(column, type)`` pairs of a source's raw table, in table order."""
    cols: list[tuple[str, str]] = []
    for label in spec.columns:
        is_json = spec.format == "jsonl" and label in spec.json_columns
        cols.append((spec.column_name(label), "JSON" if is_json else "VARCHAR"))
    cols.append(("extra_columns", "JSON") if spec.format == "csv" else ("payload", "JSON"))
    cols += [("_source_file", "VARCHAR"), ("_source_line", "BIGINT"), ("_loaded_at", "TIMESTAMP")]
    return cols


def ensure_raw_schema(con: duckdb.DuckDBPyConnection, sources: dict[str, SourceSpec] | None = None) -> None:
    """Create the ``raw`` schema and every raw table, adding columns that a newer contract introduced.

    Safe to call on every run: dbt reads the raw tables, so they must exist before any file arrives.
    Columns are only ever added, never dropped or retyped, so older loads stay readable.
    """
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(_LOAD_FILES_DDL)
    con.execute(_QUARANTINE_DDL)
    existing: dict[str, set[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'raw'"
    ).fetchall():
        existing.setdefault(f"raw.{table}", set()).add(column)
    for column in _LOAD_FILES_DIALECT_COLUMNS:
        if column not in existing.get(LOAD_FILES_TABLE, set()):
            con.execute(f"ALTER TABLE {LOAD_FILES_TABLE} ADD COLUMN IF NOT EXISTS {column} VARCHAR")
    if _LOAD_FILES_STAMP_COLUMN not in existing.get(LOAD_FILES_TABLE, set()):
        con.execute(f"ALTER TABLE {LOAD_FILES_TABLE} ADD COLUMN IF NOT EXISTS {_LOAD_FILES_STAMP_COLUMN} BIGINT")
    for column in _QUARANTINE_BYTE_RANGE_COLUMNS:
        if column not in existing.get(QUARANTINE_TABLE, set()):
            con.execute(f"ALTER TABLE {QUARANTINE_TABLE} ADD COLUMN IF NOT EXISTS {column} BIGINT")
    for spec in (sources or SOURCES).values():
        cols = raw_columns(spec)
        if spec.table not in existing:
            body = ",\n    ".join(f"{_quote(name)} {typ}{_storage(name)}" for name, typ in cols)
            con.execute(f"CREATE TABLE IF NOT EXISTS {spec.table} (\n    {body}\n)")
            continue
        for name, typ in cols:
            if name not in existing[spec.table]:
                con.execute(f"ALTER TABLE {spec.table} ADD COLUMN IF NOT EXISTS {_quote(name)} {typ}")
