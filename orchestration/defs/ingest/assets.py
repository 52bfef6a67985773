"""Ingest: every landing source becomes one raw DuckDB table (append-only, with load metadata)."""

import dagster as dg

from landing.contract import SOURCES
from landing.ingest import ingest_landing
from landing.schema import ensure_raw_schema
from orchestration.metadata import mask_text, table_schema
from orchestration.resources import WarehouseResource
from orchestration.settings import WAREHOUSE_POOL


def raw_asset_key(source: str) -> dg.AssetKey:
    """Asset key of a source's raw table (`raw/<source>`), shared with the dbt sources."""
    return dg.AssetKey(["raw", source])


def raw_asset_specs() -> list[dg.AssetSpec]:
    """One asset spec per landing source (a function, so the defs loader does not collect the specs twice)."""
    return [
        dg.AssetSpec(
            key=raw_asset_key(name),
            group_name="raw",
            kinds={"duckdb", spec.format},
            owners=["team:data-engineering"],
            description=f"Rows of the `{spec.folder}/` landing files ({spec.format}), as text, with the file, "
            f"line and load time of each row. Bad rows are in raw.quarantine_rows.",
            skippable=True,
            tags={"layer": "raw"},
        )
        for name, spec in SOURCES.items()
    ]


@dg.multi_asset(specs=raw_asset_specs(), can_subset=True, name="load_landing_files", pool=WAREHOUSE_POOL)
def load_landing_files(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Load every landing file not loaded before; quarantine bad rows and unreadable files with reasons."""
    selected = [key.path[-1] for key in context.selected_asset_keys]
    with warehouse.connect() as con:
        ensure_raw_schema(con)
        # Messages name files and counts; a rejected file's reason can quote its first line: masked for the log
        # (the full reason is in raw.load_files).
        report = ingest_landing(
            con, warehouse.landing_dir, sources=selected, progress=lambda line: context.log.info(mask_text(line))
        )
        for note in report.notes:
            context.log.warning(mask_text(note))
        for rejected in report.rejected:
            context.log.error(mask_text(f"{rejected.source}/{rejected.path}: {rejected.error}"))
        for failed in report.failed:  # not the file's fault; the next run tries it again
            context.log.error(mask_text(f"{failed.source}: {failed.error}"))
        for waiting in report.waiting:
            context.log.warning(mask_text(f"{waiting.source}: {waiting.error}"))
        totals = report.totals
        for name in selected:
            spec = SOURCES[name]
            source_totals = totals.get(name)
            row_count = con.execute(f"select count(*) from {spec.table}").fetchone()[0]
            metadata = {
                "dagster/row_count": row_count,
                "files_loaded": source_totals.files_loaded if source_totals else 0,
                "files_skipped": source_totals.files_skipped if source_totals else 0,
                "files_rejected": source_totals.files_rejected if source_totals else 0,
                "files_failed": source_totals.files_failed if source_totals else 0,
                "files_waiting": source_totals.files_waiting if source_totals else 0,
                "rows_loaded": source_totals.rows_loaded if source_totals else 0,
                "rows_accepted": source_totals.rows_accepted if source_totals else 0,
                "rows_quarantined": source_totals.rows_quarantined if source_totals else 0,
                # Counts and the schema only: rows of these tables are contact data (docs/operations.md).
                "dagster/column_schema": table_schema(con, spec.table),
            }
            yield dg.MaterializeResult(asset_key=raw_asset_key(name), metadata=metadata)
