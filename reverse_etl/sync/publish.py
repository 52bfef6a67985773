"""The sync log, published to the warehouse (`reverse_etl.sync_log`) with the lineage of every CRM write.

Each row is one attempt from the operational store's `sync_log`, joined to the action it carried out: the
action's type and workflow, the golden record it was about, its evidence rows, reasons, model and policy
versions, and who approved it when. A data engineer can walk from any write in the CRM back to why it was made.
Rows are appended in `log_id` order from where the last publication stopped, so a refresh adds only what is new.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import duckdb
import polars as pl
import sqlalchemy as sa

from ops_store.schema import actions, sync_log

WAREHOUSE_TABLE = "reverse_etl.sync_log"
_CHUNK = 50_000

_COLUMNS = {
    "log_id": pl.Int64,
    "at": pl.Datetime("us", "UTC"),
    "run_id": pl.Utf8,
    "connection": pl.Utf8,
    "sync": pl.Utf8,
    "action_id": pl.Utf8,
    "object_type": pl.Utf8,
    "record_id": pl.Utf8,
    "request_kind": pl.Utf8,
    "status": pl.Utf8,
    "message": pl.Utf8,
    "attempt": pl.Int64,
    "action_type": pl.Utf8,
    "workflow": pl.Utf8,
    "target_kind": pl.Utf8,
    "target_id": pl.Utf8,
    "risk_class": pl.Utf8,
    "reasons": pl.Utf8,
    "evidence": pl.Utf8,
    "model_version": pl.Utf8,
    "policy_version": pl.Utf8,
    "approved_by": pl.Utf8,
    "approved_at": pl.Datetime("us", "UTC"),
    "proposing_run_id": pl.Utf8,
}

_DDL = f"""
create table if not exists {WAREHOUSE_TABLE} (
    log_id bigint primary key, "at" timestamptz, run_id varchar, connection varchar, sync varchar, action_id varchar,
    object_type varchar, record_id varchar, request_kind varchar, status varchar, message varchar, attempt bigint,
    action_type varchar, workflow varchar, target_kind varchar, target_id varchar, risk_class varchar,
    reasons json, evidence json, model_version varchar, policy_version varchar, approved_by varchar,
    approved_at timestamptz, proposing_run_id varchar
)
"""


def publish_sync_log(
    ops_engine: sa.Engine, con: duckdb.DuckDBPyConnection, progress: Callable[[str], None] | None = None
) -> int:
    """Append the operational store's new sync-log rows, with their action's lineage, to the warehouse.

    Returns how many rows were added."""
    # DuckDB wants every result read before the next statement on a connection.
    con.execute("create schema if not exists reverse_etl").fetchall()
    con.execute(_DDL).fetchall()
    after = con.execute(f"select coalesce(max(log_id), 0) from {WAREHOUSE_TABLE}").fetchall()[0][0]
    query = (
        sa.select(
            *sync_log.c,
            actions.c.action_type,
            actions.c.workflow,
            actions.c.target_kind,
            actions.c.target_id,
            actions.c.risk_class,
            actions.c.reasons,
            actions.c.evidence,
            actions.c.model_version.label("action_model_version"),
            actions.c.policy_version,
            actions.c.decided_by,
            actions.c.decided_at,
            actions.c.run_id.label("proposing_run_id"),
        )
        .select_from(sync_log.outerjoin(actions, actions.c.action_id == sync_log.c.action_id))
        .where(sync_log.c.log_id > after)
        .order_by(sync_log.c.log_id)
    )
    added = 0
    with ops_engine.connect() as ops:
        result = ops.execution_options(stream_results=True, yield_per=_CHUNK).execute(query).mappings()
        for chunk in result.partitions(_CHUNK):
            frame = pl.DataFrame([_row(r) for r in chunk], schema=_COLUMNS, orient="row")
            con.register("sync_log_chunk", frame.to_arrow())
            try:
                con.execute(
                    f"insert into {WAREHOUSE_TABLE} by name select * replace "
                    "(cast(reasons as json) as reasons, cast(evidence as json) as evidence) from sync_log_chunk"
                ).fetchall()
            finally:
                con.unregister("sync_log_chunk")
            added += frame.height
            if progress:
                progress(f"sync log: {added:,} new rows published to {WAREHOUSE_TABLE}")
    return added


def _row(r) -> dict:
    """One published row: the attempt, and (for actions) who approved what on which evidence."""
    decided = r["decided_by"] is not None and r["sync"] == "action"
    return {
        **{k: r[k] for k in ("log_id", "at", "run_id", "connection", "sync", "action_id", "object_type")},
        **{k: r[k] for k in ("record_id", "request_kind", "status", "message", "attempt")},
        "action_type": r["action_type"],
        "workflow": r["workflow"],
        "target_kind": r["target_kind"],
        "target_id": r["target_id"],
        "risk_class": r["risk_class"],
        "reasons": json.dumps(r["reasons"]) if r["reasons"] is not None else None,
        "evidence": json.dumps(r["evidence"]) if r["evidence"] is not None else None,
        "model_version": r["model_version"] or r["action_model_version"],
        "policy_version": r["policy_version"],
        "approved_by": r["decided_by"] if decided else None,
        "approved_at": r["decided_at"] if decided else None,
        "proposing_run_id": r["proposing_run_id"],
    }
