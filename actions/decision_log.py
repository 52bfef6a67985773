"""The decision log: the operational store's actions copied into the warehouse (`raw.decision_log`).

This is the one path by which data goes from the decision queue into the warehouse. Everything else the
warehouse knows comes back through ingest (the CRM's own records, engagement events), but a held-out action is
never sent: nothing of it reaches the CRM, so only this copy tells the outcome marts who was held out, who was
treated and when (docs/outcomes.md). No Dagster here: `orchestration/defs/actions/decision_log.py` wires it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from actions.queue import SPLIT_EVENT
from ops_store.schema import action_events, actions, sync_outbox

TABLE = "raw.decision_log"
# One row per action: what the warehouse needs to tell treated from held out and to join outcomes (no payload,
# no emails, no reasons: contact data stays in the operational store).
COLUMNS: dict[str, pa.DataType] = {
    "action_id": pa.string(),
    "workflow": pa.string(),
    "action_type": pa.string(),
    "target_kind": pa.string(),
    "target_id": pa.string(),
    "account_id": pa.string(),
    "owner": pa.string(),
    "state": pa.string(),
    "risk_class": pa.string(),
    "proposed_at": pa.timestamp("us", tz="UTC"),
    "decided_at": pa.timestamp("us", tz="UTC"),
    "sent_at": pa.timestamp("us", tz="UTC"),
    # A sent merge a person recorded as wrong (`DecisionQueue.record_split`): the time of its `split` event.
    "split_at": pa.timestamp("us", tz="UTC"),
    "policy_version": pa.string(),
    "copied_at": pa.timestamp("us", tz="UTC"),
}
_DDL = ", ".join(
    f"{name} {'timestamptz' if pa.types.is_timestamp(kind) else 'varchar'}" for name, kind in COLUMNS.items()
)
BATCH_ROWS = 50_000
# The store's times, as read by the SQLAlchemy types (`ops_store.schema.UTCDateTime`): every one but `copied_at`.
TIMES = tuple(name for name, kind in COLUMNS.items() if pa.types.is_timestamp(kind) and name != "copied_at")
# SQLite keeps a time as the text SQLAlchemy wrote ('YYYY-MM-DD HH:MM:SS.ffffff'). Such a text is read as text and
# cast by DuckDB, a column at a time: parsed into a Python datetime per value, zone attached and converted again by
# Arrow, the three times of ~114k actions were ~1.8 s of the copy's ~3.3 s CPU at 1M (a cost that grows with the
# store, every hour's actions kept). Only these two forms, which DuckDB and SQLAlchemy read alike; a batch holding
# any other text makes the whole copy go the typed way.
_SQLITE_TIME = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?"


@dataclass(frozen=True)
class CopyReport:
    rows: int
    held_out: int
    sent: int
    copied_at: datetime
    split: int = 0


def ensure_decision_log_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create an empty `raw.decision_log` if there is none (a warehouse no copy has reached yet)."""
    con.execute("create schema if not exists raw")
    con.execute(f"create table if not exists {TABLE} ({_DDL})")


class _UnusualTime(Exception):
    """A time of the store not in the text form the text path reads (`_SQLITE_TIME`)."""


def decision_log_query(text_times: bool = False) -> sa.Select:
    """Every action with the time its first CRM request was sent and the time a person recorded it as a wrong merge
    (each NULL if none). `text_times`: the TIMES columns as the database's own text (SQLite), not typed."""
    first_sent = (
        sa.select(sync_outbox.c.action_id, sa.func.min(sync_outbox.c.sent_at).label("sent_at"))
        .where(sync_outbox.c.sent_at.is_not(None))
        .group_by(sync_outbox.c.action_id)
        .subquery()
    )
    split = (
        sa.select(action_events.c.action_id, sa.func.min(action_events.c.at).label("split_at"))
        .where(action_events.c.event == SPLIT_EVENT)
        .group_by(action_events.c.action_id)
        .subquery()
    )
    columns = [
        *(actions.c[name] for name in COLUMNS if name not in ("sent_at", "split_at", "copied_at")),
        first_sent.c.sent_at,
        split.c.split_at,
    ]
    if text_times:
        columns = [sa.type_coerce(c, sa.String).label(c.name) if c.name in TIMES else c for c in columns]
    return (
        sa.select(*columns)
        .select_from(
            actions.outerjoin(first_sent, first_sent.c.action_id == actions.c.action_id).outerjoin(
                split, split.c.action_id == actions.c.action_id
            )
        )
        .order_by(actions.c.action_id)
    )


def copy_decision_log(engine: sa.Engine, con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> CopyReport:
    """Replace `raw.decision_log` with the store's actions as they are now, in one warehouse transaction."""
    copied_at = (now or datetime.now(UTC)).astimezone(UTC)
    if engine.dialect.name == "sqlite":
        try:
            return _copy(engine, con, copied_at, text_times=True)
        except _UnusualTime:
            pass  # rolled back: copied again with the times typed
    return _copy(engine, con, copied_at, text_times=False)


def _copy(engine: sa.Engine, con: duckdb.DuckDBPyConnection, copied_at: datetime, text_times: bool) -> CopyReport:
    """The copy, its times read typed or (`text_times`, SQLite) as text cast by DuckDB; raises _UnusualTime, rolled
    back, when a text is not of the form `_SQLITE_TIME`."""
    # `copied_at`, one value, is a parameter of the insert rather than a column of each batch (a Python datetime per
    # row converted by Arrow: ~0.1 s at 1M).
    schema = pa.schema(
        [(n, pa.string() if text_times and n in TIMES else kind) for n, kind in COLUMNS.items() if n != "copied_at"]
    )
    # A text time is the UTC time SQLAlchemy stored without its zone: read as a timestamp at UTC, whatever the
    # session's time zone.
    select = ", ".join(
        "?::timestamptz as copied_at"
        if n == "copied_at"
        else f"timezone('UTC', {n}::timestamp) as {n}"
        if text_times and n in TIMES
        else n
        for n in COLUMNS
    )
    unusual = " or ".join(f"not regexp_full_match({n}, '{_SQLITE_TIME}')" for n in TIMES)
    con.execute("begin transaction")
    try:
        con.execute(f"drop table if exists {TABLE}")
        ensure_decision_log_table(con)
        with engine.connect() as store:
            result = store.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(
                decision_log_query(text_times)
            )
            names = list(result.keys())
            for batch in result.partitions(BATCH_ROWS):
                # Transposed in one pass (zip), not looked up row by row: the store grows by every hour's actions.
                columns = dict(zip(names, map(list, zip(*batch, strict=True)), strict=True))
                _batch = pa.Table.from_pydict(columns, schema=schema)  # noqa: F841 (read by DuckDB by name)
                if text_times and con.execute(f"select count(*) from _batch where {unusual}").fetchone()[0]:
                    raise _UnusualTime
                con.execute(f"insert into {TABLE} select {select} from _batch", [copied_at])
        rows, held_out, sent, split = con.execute(
            f"select count(*), count(*) filter (where state = 'held_out'), count(sent_at), count(split_at) from {TABLE}"
        ).fetchone()
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return CopyReport(rows=rows, held_out=held_out, sent=sent, copied_at=copied_at, split=split)
