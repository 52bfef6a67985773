"""API ingestion: pull changed CRM records into the same raw tables the CSV exports fill.

Rows are appended like a new export (staging keeps the latest version per record id). Each row's
`_source_file` is `api:hubspot/<object type>` and `_source_line` a sequence per source. A row goes through
the checks a landing file's rows pass (`SourceSpec.row_problems`): one that fails is quarantined in
`raw.quarantine_rows` with the reason and the record as JSON. Each page is one `raw.load_files` line
(rows loaded = accepted + quarantined), written with its rows in one transaction. The read cursor is saved
in the operational store only after a page's rows are in the warehouse, and a row whose record id and
last-modified time are already loaded from the API is not inserted twice: a re-run after a failure at any
point neither loses nor duplicates rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from landing.contract import SOURCES, SourceSpec
from landing.schema import LOAD_FILES_TABLE, QUARANTINE_TABLE, ensure_raw_schema
from reverse_etl.crm.cursors import CursorStore
from reverse_etl.crm.hubspot import HubSpotClient
from reverse_etl.crm.hubspot_mapping import (
    API_RAW_SOURCES,
    ASSOCIATION_COLUMNS,
    ENGAGEMENT_SOURCES,
    engagement_to_raw_row,
    properties_to_raw_row,
    properties_to_read,
)

API_OBJECT_TYPES = tuple(API_RAW_SOURCES)  # contacts, companies, deals, tasks, notes
# What tells two pulls of one record apart: its last-modified time (a column, or kept in extra_columns).
_VERSION_EXPRESSION = {
    "hubspot_activities": "json_extract_string({alias}.extra_columns, '$.hs_lastmodifieddate')",
}


@dataclass(frozen=True)
class PullReport:
    """What one pull did: records read from the CRM, rows inserted, rows that were already there."""

    object_type: str
    raw_table: str
    source_file: str
    records_read: int
    rows_inserted: int
    rows_already_loaded: int
    cursor: str | None
    rows_quarantined: int = 0


def api_source_file(object_type: str) -> str:
    """The `_source_file` of rows pulled from the API (`api:hubspot/contacts`)."""
    return f"api:hubspot/{object_type}"


def pull_to_raw(
    con: duckdb.DuckDBPyConnection,
    client: HubSpotClient,
    object_type: str,
    cursors: CursorStore,
    connection: str,
    progress: Callable[[str], None] | None = None,
) -> PullReport:
    """Pull records of one type changed since the saved cursor into its raw table; save the new cursor."""
    if object_type not in API_RAW_SOURCES:
        raise ValueError(f"API ingestion covers {', '.join(API_OBJECT_TYPES)}, not {object_type!r}")
    ensure_raw_schema(con)
    spec = SOURCES[API_RAW_SOURCES[object_type]]
    engagement = object_type in ENGAGEMENT_SOURCES
    targets = ("contacts", "companies") if engagement else tuple(ASSOCIATION_COLUMNS.get(object_type, {}).values())
    source_file = api_source_file(object_type)
    cursor = cursors.get(connection, object_type)
    owner_names = client.owner_names()
    read = inserted = quarantined = 0
    for page in client.iter_changed(object_type, cursor, properties_to_read(object_type)):
        if page.records:
            ids = [r.id for r in page.records]
            linked = {target: client.read_associations(object_type, ids, target) for target in targets}
            to_row = engagement_to_raw_row if engagement else properties_to_raw_row
            rows = [
                to_row(
                    object_type,
                    {**r.properties, "hs_object_id": r.id},
                    owner_names,
                    {target: links.get(r.id, []) for target, links in linked.items()},
                )
                for r in page.records
            ]
            read += len(rows)
            page_inserted, page_quarantined = _store_page(con, spec, rows, source_file)
            inserted, quarantined = inserted + page_inserted, quarantined + page_quarantined
        cursors.set(connection, object_type, page.cursor)
        cursor = page.cursor
        if progress and page.records:
            progress(f"{object_type}: {read} records read, {inserted} rows inserted, {quarantined} quarantined")
    return PullReport(
        object_type, spec.table, source_file, read, inserted, read - inserted - quarantined, cursor, quarantined
    )


def _store_page(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, rows: list[dict], source_file: str
) -> tuple[int, int]:
    """One page in one transaction: rows that pass the landing checks appended, the others quarantined with
    their reasons, and the page's `raw.load_files` line. Returns (rows inserted, rows quarantined)."""
    accepted, rejected = [], []
    for row in rows:
        problems = spec.row_problems(lambda label, row=row: row.get(spec.column_name(label)))
        (rejected if problems else accepted).append((row, "; ".join(problems)))
    con.execute("BEGIN TRANSACTION")
    try:
        inserted = _append(
            con, spec.table, [*spec.column_names, "extra_columns"], [r for r, _ in accepted], source_file
        )
        if inserted or rejected:
            file_id = _record_load(con, spec.name, source_file, inserted, len(rejected))
            _quarantine(con, spec.name, source_file, file_id, rejected)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return inserted, len(rejected)


def _append(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list[dict], source_file: str) -> int:
    """Insert rows not already loaded from this source (same record id and last-modified date)."""
    page = pa.table({name: pa.array([row.get(name) for row in rows], type=pa.string()) for name in columns})
    con.register("crm_api_page", page)
    version = _VERSION_EXPRESSION.get(table.split(".")[-1], "{alias}.last_modified_date")
    try:
        quoted = ", ".join(f'"{c}"' for c in columns)
        before = con.execute(f"select count(*) from {table} where _source_file = ?", [source_file]).fetchall()[0][0]
        line = con.execute(
            f"select coalesce(max(_source_line), 0) from {table} where _source_file = ?", [source_file]
        ).fetchall()[0][0]
        con.execute(
            f"""
            insert into {table} ({quoted}, _source_file, _source_line, _loaded_at)
            select {quoted}, ?, ? + row_number() over (), ?
            from crm_api_page p
            where not exists (
                select 1 from {table} t
                where t._source_file = ? and t.record_id = p.record_id
                  and {version.format(alias="t")} is not distinct from {version.format(alias="p")})
            """,
            [source_file, line, datetime.now(UTC).replace(tzinfo=None), source_file],
        ).fetchall()
        after = con.execute(f"select count(*) from {table} where _source_file = ?", [source_file]).fetchall()[0][0]
    finally:
        con.unregister("crm_api_page")
    return after - before


def _record_load(con: duckdb.DuckDBPyConnection, source: str, source_file: str, accepted: int, quarantined: int) -> int:
    """One `raw.load_files` line per stored page, so load summaries count API rows next to file rows."""
    file_id = con.execute(f"select coalesce(max(file_id), 0) + 1 from {LOAD_FILES_TABLE}").fetchall()[0][0]
    con.execute(
        f"insert into {LOAD_FILES_TABLE} (file_id, source, path, sha256, size_bytes, status, rows_loaded, "
        "rows_accepted, rows_quarantined, error, loaded_at) values (?, ?, ?, null, null, 'loaded', ?, ?, ?, null, ?)",
        [
            file_id,
            source,
            source_file,
            accepted + quarantined,
            accepted,
            quarantined,
            datetime.now(UTC).replace(tzinfo=None),
        ],
    ).fetchall()
    return file_id


def _quarantine(
    con: duckdb.DuckDBPyConnection, source: str, source_file: str, file_id: int, rejected: list[tuple[dict, str]]
) -> None:
    """Quarantine rows that failed the landing checks, each with its reasons and the record as JSON."""
    if not rejected:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    con.executemany(
        f"insert into {QUARANTINE_TABLE} (file_id, source, path, line, reason, raw_text, quarantined_at) "
        "values (?, ?, ?, null, ?, ?, ?)",
        [
            [file_id, source, source_file, reason, json.dumps(row, ensure_ascii=False, default=str), now]
            for row, reason in rejected
        ],
    )
