"""The reply classes copy: the classifier's answers for email replies, copied into `raw.reply_classes` for dbt.

Replies are classified by the `ml` assets after dbt (`ml.reply_classifications`, appended by
`ml.replies.classify_replies`: one row per reply and model version), so the outcome marts cannot read them in the
same `dbt build` without a cycle. Like the decision log and the lead tiers, this copy runs at the start of a refresh
with no upstream asset: it copies what the previous refreshes classified, and dbt reads it as a source
(`actionhouse.reply_classes`; docs/outcomes.md "Reply classes").

Append-only, like its origin: each copy inserts only the classifications made since the newest one already copied
(`classified_at` at or after that mark, minus the (event, model version) pairs already there), so its cost follows
the new classifications, not the history (both tables are appended in `classified_at` order, so DuckDB's zone maps
skip the older row groups). Copying again without new classifications inserts nothing. Which classification of a
reply counts (the newest) is the staging model's business. No reply text and no contact here (no PII): event id,
class and model version only. No Dagster here: `orchestration/defs/ml/reply_classes.py` wires it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from ml.score_log import table_exists
from ml.table_names import CLASSIFICATIONS_TABLE

TABLE = "raw.reply_classes"
_DDL = (
    "event_id varchar, predicted_class varchar, decided_by varchar, confidence double, model_version varchar, "
    "classified_at timestamptz, copied_at timestamptz"
)


@dataclass(frozen=True)
class ReplyClassCopyReport:
    rows: int  # rows in the copy after this run
    new: int  # classifications copied by this run
    copied_at: datetime


def ensure_reply_classes_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create an empty `raw.reply_classes` if there is none (a warehouse no reply was classified in yet)."""
    con.execute("create schema if not exists raw")
    con.execute(f"create table if not exists {TABLE} ({_DDL})")


def copy_reply_classes(
    con: duckdb.DuckDBPyConnection,
    now: datetime | None = None,
    source: str = CLASSIFICATIONS_TABLE,
) -> ReplyClassCopyReport:
    """Append to `raw.reply_classes` the classifications of `source` it does not have yet, in one warehouse
    transaction (a failed copy leaves the previous one). With no classifications yet, an empty table."""
    copied_at = (now or datetime.now(UTC)).astimezone(UTC)
    con.execute("begin transaction")
    try:
        ensure_reply_classes_table(con)
        new = 0
        if table_exists(con, source):
            # The mark: the newest classification copied. Rows of the same classifying run share its
            # classified_at, so rows at the mark are compared by (event, version) rather than skipped.
            mark = con.execute(f"select max(classified_at) from {TABLE}").fetchone()[0]
            since = "true" if mark is None else "c.classified_at >= $mark"
            already = "true" if mark is None else "r.classified_at >= $mark"
            params = {"copied_at": copied_at} | ({} if mark is None else {"mark": mark})
            new = con.execute(
                f"""
                insert into {TABLE} by name
                select c.event_id, c.predicted_class, c.decided_by, c.confidence, c.model_version,
                       c.classified_at, cast($copied_at as timestamptz) as copied_at
                from {source} as c
                where {since}
                  and not exists (
                      select 1 from {TABLE} as r
                      where {already} and r.event_id = c.event_id and r.model_version = c.model_version
                  )
                """,
                params,
            ).fetchone()[0]
        rows = con.execute(f"select count(*) from {TABLE}").fetchone()[0]
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return ReplyClassCopyReport(rows=rows, new=new, copied_at=copied_at)
