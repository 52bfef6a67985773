"""The decision log: the operational store's actions copied into the warehouse (`raw.decision_log`).

This is the one path by which data goes from the decision queue into the warehouse. Everything else the
warehouse knows comes back through ingest (the CRM's own records, engagement events), but a held-out action is
never sent: nothing of it reaches the CRM, so only this copy tells the outcome marts who was held out, who was
treated and when (docs/outcomes.md). No Dagster here: `orchestration/defs/actions/decision_log.py` wires it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from actions.queue import SPLIT_EVENT
from ops_store.engine import current_revision
from ops_store.schema import action_events, actions, sync_log, sync_outbox

TABLE = "raw.decision_log"
# Where the last copy left off (one row, JSON): how far it read the store's two append-only logs, so the next copy
# reads only the actions written since (`_Marks`).
MARKS_TABLE = "raw.decision_log_marks"
# Bumped when what a row of the copy holds changes: the next copy is then a full one.
COPY_VERSION = 1
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
    # False when only the actions written since the last copy were copied again (`changed` of them).
    full: bool = True
    changed: int = 0


def ensure_decision_log_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create an empty `raw.decision_log` if there is none (a warehouse no copy has reached yet)."""
    con.execute("create schema if not exists raw")
    con.execute(f"create table if not exists {TABLE} ({_DDL})")


class _UnusualTime(Exception):
    """A time of the store not in the text form the text path reads (`_SQLITE_TIME`)."""


def decision_log_query(text_times: bool = False, some: bool = False) -> sa.Select:
    """Every action with the time its first CRM request was sent and the time a person recorded it as a wrong merge
    (each NULL if none). `text_times`: the TIMES columns as the database's own text (SQLite), not typed. `some`: only
    the actions whose ids are the expanding parameter `ids` (the outbox and the events read through their
    `action_id` indexes)."""
    sent = sync_outbox.c.sent_at.is_not(None)
    split_event = action_events.c.event == SPLIT_EVENT
    if some:
        ids = sa.bindparam("ids", expanding=True)
        sent = sa.and_(sync_outbox.c.action_id.in_(ids), sent)
        split_event = sa.and_(action_events.c.action_id.in_(ids), split_event)
    first_sent = (
        sa.select(sync_outbox.c.action_id, sa.func.min(sync_outbox.c.sent_at).label("sent_at"))
        .where(sent)
        .group_by(sync_outbox.c.action_id)
        .subquery()
    )
    split = (
        sa.select(action_events.c.action_id, sa.func.min(action_events.c.at).label("split_at"))
        .where(split_event)
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
    query = (
        sa.select(*columns)
        .select_from(
            actions.outerjoin(first_sent, first_sent.c.action_id == actions.c.action_id).outerjoin(
                split, split.c.action_id == actions.c.action_id
            )
        )
        .order_by(actions.c.action_id)
    )
    return query.where(actions.c.action_id.in_(sa.bindparam("ids", expanding=True))) if some else query


class _Drifted(Exception):
    """The store holds another number of actions than the copy made from the logs: copied whole instead."""


# The store's append-only logs (database triggers refuse changes) whose rows since the last copy name every action whose
# row of the copy can have changed: each change of an action's row is written with an audit event in the same
# transaction (`DecisionQueue.add`, `transition`, `transition_many`, `record_split`; a split is itself an event, which
# `split_at` reads), and each send of an outbox row (`sync_outbox.sent_at`, which `sent_at` reads, set only by the sync
# engine's `_record`) with a `sync_log` row of its action in the same transaction. Per log: its id, its action, and
# what tells a row from another store's row of the same id (the time it was written, with a second column).
_LOGS: dict[str, tuple[sa.Column, sa.Column, sa.Column, sa.Column]] = {
    "action_events": (action_events.c.event_id, action_events.c.action_id, action_events.c.at, action_events.c.actor),
    "sync_log": (sync_log.c.log_id, sync_log.c.action_id, sync_log.c.at, sync_log.c.run_id),
}
# A log's ids below its newest one that a copy did not see (a writer's transaction still open: PostgreSQL hands out a
# sequence's ids before their rows commit; or rolled back, never to appear) are read again by the next copies, for a
# day; more than this many and the copy is a full one.
GAP_DAYS = 1
MAX_GAPS = 10_000
# Changed actions read per query (an IN list of ids).
IDS_PER_QUERY = 500
# Read by id, an action costs ~1.6x what it does in a full copy (40k of 116k actions at 1M: 1.45 s CPU against 2.5):
# past this share of the table's rows changed, the whole is copied.
WHOLE_SHARE = 0.5


def copy_decision_log(
    engine: sa.Engine, con: duckdb.DuckDBPyConnection, now: datetime | None = None, *, full: bool = False
) -> CopyReport:
    """Bring `raw.decision_log` to the store's actions as they are now, in one warehouse transaction.

    Only the actions named by the store's logs since the last copy are read again (deleted and inserted by
    `action_id`; `copied_at` set on every row), unless `full`, or there is no last copy, or it was made by another
    copy version, of a store at another schema revision, or of another store (the last log rows it read are not in
    this one as they were: a store rebuilt or restored from a backup), or the warehouse's table has other columns, or
    more than `WHOLE_SHARE` of its rows changed, or the number of actions then differs from the store's: then the
    table is replaced whole. Either way the same rows."""
    copied_at = (now or datetime.now(UTC)).astimezone(UTC)
    text_times = engine.dialect.name == "sqlite"
    while True:
        try:
            return _copy(engine, con, copied_at, text_times=text_times, full=full)
        except _UnusualTime:
            text_times = False  # rolled back: copied again with the times typed
        except _Drifted:
            full = True  # rolled back: copied whole


def _row_key(at: datetime, other: object) -> str:
    return f"{at.astimezone(UTC).isoformat()}|{other}"


def _log_mark(store: sa.Connection, name: str) -> dict:
    """The newest row of a log: its id and key (id 0 for an empty log)."""
    id_, _, at, other = _LOGS[name]
    row = store.execute(sa.select(id_, at, other).order_by(id_.desc()).limit(1)).first()
    return {"last": 0, "key": None, "gaps": {}} if row is None else {"last": row[0], "key": _row_key(row[1], row[2])}


def _still_there(store: sa.Connection, name: str, mark: dict) -> bool:
    """Whether the log row a copy last read is in the store as it was (rows of these logs never change)."""
    if not mark["last"]:
        return True
    id_, _, at, other = _LOGS[name]
    row = store.execute(sa.select(at, other).where(id_ == mark["last"])).first()
    return row is not None and _row_key(*row) == mark["key"]


def _previous_marks(con: duckdb.DuckDBPyConnection, store: sa.Connection, revision: str | None) -> dict | None:
    """The last copy's marks if the copy can follow on from them (see `copy_decision_log`), else None."""
    found = con.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_catalog = current_database() and table_schema = 'raw' "
        "and table_name in ('decision_log', 'decision_log_marks') "
        "order by table_name, ordinal_position"
    ).fetchall()
    expected = [
        (name, "TIMESTAMP WITH TIME ZONE" if pa.types.is_timestamp(kind) else "VARCHAR")
        for name, kind in COLUMNS.items()
    ]
    if [(c, t) for table, c, t in found if table == "decision_log"] != expected or not any(
        table == "decision_log_marks" for table, _, _ in found
    ):
        return None
    rows = con.execute(f"select marks from {MARKS_TABLE}").fetchall()
    if len(rows) != 1:
        return None
    marks = json.loads(rows[0][0])
    logs = marks.get("logs") if isinstance(marks, dict) else None
    if (
        logs is None
        or marks.get("version") != COPY_VERSION
        or marks.get("revision") != revision
        or set(logs) != set(_LOGS)
    ):
        return None
    if not all(_still_there(store, name, mark) for name, mark in logs.items()):
        return None
    return marks


def _changed(store: sa.Connection, name: str, since: dict, now_mark: dict, copied_at: datetime):
    """The actions named by a log's rows after the last copy's mark or in its gaps, and the gaps left below the
    mark read now (None when too many)."""
    id_, action, _, _ = _LOGS[name]
    gaps = {int(g): seen for g, seen in since["gaps"].items()}
    after = id_ > since["last"]
    found, ids = set(), set()
    for part in [None] if not gaps else [None, *_chunks(sorted(gaps), IDS_PER_QUERY)]:
        for log_id, action_id in store.execute(sa.select(id_, action).where(after if part is None else id_.in_(part))):
            found.add(log_id)
            if action_id is not None:
                ids.add(action_id)
    oldest = copied_at - timedelta(days=GAP_DAYS)
    left = {g: seen for g, seen in gaps.items() if g not in found and datetime.fromisoformat(seen) >= oldest}
    stamp = copied_at.isoformat()
    left.update({g: stamp for g in range(since["last"] + 1, now_mark["last"] + 1) if g not in found})
    return (ids, left) if len(left) <= MAX_GAPS else None


def _full_gaps(store: sa.Connection, name: str, mark: dict, copied_at: datetime) -> dict | None:
    """The ids below a log's newest one (read before a full copy) that are not in the store (None when too many)."""
    id_ = _LOGS[name][0]
    last = mark["last"]
    if not last or store.execute(sa.select(sa.func.count()).where(id_ <= last)).scalar_one() == last:
        return {}
    present = set(store.execute(sa.select(id_).where(id_ <= last)).scalars())
    stamp = copied_at.isoformat()
    gaps = {g: stamp for g in range(1, last + 1) if g not in present}
    return gaps if len(gaps) <= MAX_GAPS else None


def _chunks(items: list, size: int):
    return (items[i : i + size] for i in range(0, len(items), size))


def _copy(
    engine: sa.Engine, con: duckdb.DuckDBPyConnection, copied_at: datetime, text_times: bool, full: bool = False
) -> CopyReport:
    """The copy, its times read typed or (`text_times`, SQLite) as text cast by DuckDB; raises _UnusualTime, rolled
    back, when a text is not of the form `_SQLITE_TIME`, and _Drifted, rolled back, when a copy of the changed actions
    leaves another number of rows than the store has."""
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

    def insert_from(relation: str) -> None:
        """Check the times of `relation` (the store's rows as read) and insert it into the copy."""
        if text_times and con.execute(f"select count(*) from {relation} where {unusual}").fetchall()[0][0]:
            raise _UnusualTime
        con.execute(f"insert into {TABLE} select {select} from {relation}", [copied_at])

    def insert(result: sa.CursorResult) -> None:
        names = list(result.keys())
        for batch in result.partitions(BATCH_ROWS):
            # Transposed in one pass (zip), not looked up row by row: the store grows by every hour's actions.
            columns = dict(zip(names, map(list, zip(*batch, strict=True)), strict=True))
            con.register("_batch", pa.Table.from_pydict(columns, schema=schema))
            try:
                insert_from("_batch")
            finally:
                con.unregister("_batch")

    def insert_few(names: list[str], rows: list) -> None:
        # The few rows of a copy of the changes go in as DuckDB lists, not through Arrow: pyarrow imports pandas on
        # its first conversion of Python values (~0.4 s CPU, more than such a copy's own work).
        by_name = dict(zip(names, map(list, zip(*rows, strict=True)), strict=True)) if rows else {}
        lists = [by_name.get(field.name, []) for field in schema]
        unnest = ", ".join(
            f"unnest(?::{'varchar' if pa.types.is_string(field.type) else 'timestamptz'}[]) as {field.name}"
            for field in schema
        )
        con.execute(f"create or replace temp table _changed_rows as select {unnest}", lists)
        insert_from("_changed_rows")
        con.execute("drop table _changed_rows")

    revision = current_revision(engine)
    with engine.connect() as store:
        # The logs' marks are read before the actions: a change committed in between is read again by the next copy.
        marks = {name: _log_mark(store, name) for name in _LOGS}
        previous = None if full else _previous_marks(con, store, revision)
        changed: set[str] = set()
        for name in _LOGS if previous is not None else ():
            found = _changed(store, name, previous["logs"][name], marks[name], copied_at)
            if found is None:
                previous = None
                break
            changed |= found[0]
            marks[name]["gaps"] = found[1]
        if (
            previous is not None
            and len(changed) > WHOLE_SHARE * con.execute(f"select count(*) from {TABLE}").fetchone()[0]
        ):
            previous = None
        if previous is None:
            for name in _LOGS:
                marks[name]["gaps"] = _full_gaps(store, name, marks[name], copied_at)
        con.execute("begin transaction")
        try:
            if previous is None:
                con.execute(f"drop table if exists {TABLE}")
                ensure_decision_log_table(con)
                insert(
                    store.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(
                        decision_log_query(text_times)
                    )
                )
            else:
                ids = sorted(changed)
                if ids:
                    con.execute(f"delete from {TABLE} where action_id in (select unnest(?::varchar[]))", [ids])
                    query = decision_log_query(text_times, some=True)
                    fetched, names = [], []
                    for part in _chunks(ids, IDS_PER_QUERY):
                        result = store.execute(query, {"ids": part})
                        names = list(result.keys())
                        fetched.extend(result)
                    insert_few(names, fetched)
                # Every row's copy time is this copy's, as after a full copy (~0.02 s CPU at 1M).
                con.execute(f"update {TABLE} set copied_at = ?", [copied_at])
            rows, held_out, sent, split = con.execute(
                f"select count(*), count(*) filter (where state = 'held_out'), count(sent_at), count(split_at) "
                f"from {TABLE}"
            ).fetchone()
            # An action deleted from the store, or written with no log row, would leave a wrong count.
            if (
                previous is not None
                and rows != store.execute(sa.select(sa.func.count()).select_from(actions)).scalar_one()
            ):
                raise _Drifted
            con.execute(f"create table if not exists {MARKS_TABLE} (marks varchar, copied_at timestamptz)")
            con.execute(f"delete from {MARKS_TABLE}")
            if all(mark["gaps"] is not None for mark in marks.values()):
                body = {"version": COPY_VERSION, "revision": revision, "logs": marks}
                con.execute(f"insert into {MARKS_TABLE} values (?, ?)", [json.dumps(body), copied_at])
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return CopyReport(
        rows=rows,
        held_out=held_out,
        sent=sent,
        copied_at=copied_at,
        split=split,
        full=previous is None,
        changed=rows if previous is None else len(changed),
    )
