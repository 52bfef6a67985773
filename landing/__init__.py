"""Landing: load the files of the landing folder into the raw DuckDB tables (see docs/landing-contract.md).

No Dagster here; the orchestration layer wraps :func:`ingest_landing`.
"""

from landing.contract import SOURCES, SourceSpec, parse_timestamp, snake_case
from landing.ingest import FileResult, IngestReport, SourceTotals, ingest_landing, load_file, stage_file
from landing.schema import ensure_raw_schema, raw_columns

__all__ = [
    "SOURCES",
    "FileResult",
    "IngestReport",
    "SourceSpec",
    "SourceTotals",
    "ensure_raw_schema",
    "ingest_landing",
    "load_file",
    "parse_timestamp",
    "raw_columns",
    "snake_case",
    "stage_file",
]
