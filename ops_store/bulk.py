"""Many rows inserted into one table at once, bound as SQLAlchemy binds them, without its per-row overhead.

`con.execute(sa.insert(table), rows)` builds a parameter dict per row and calls each column type's bind processor
per value (JSON encoding, zone-aware times to UTC text on SQLite). A full build's planner writes ~114,000 actions,
their audit events and ~146,000 suppression entries at 1M contacts, and that per-row work was most of the writes'
CPU. `insert_many` applies the same processors column by column — once per distinct value for the values whose
processed form follows from their type and value (None, text, times; a run's rows share a few times), any other
value once per object (rows may share one document) — and hands the DBAPI plain tuples. Dialects with named
parameters (PostgreSQL's drivers) keep SQLAlchemy's own path.

    insert_many(con, actions, rows)   # rows: dicts with the same keys, as for `con.execute(sa.insert(...), rows)`
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

# Values whose bound form follows from what they compare equal by: None and text by value, times by value, zone and
# fold (equal times in one zone have the same fields; in two zones they are one instant, which a plain DateTime on
# SQLite writes apart). Anything else is processed one by one (a float's -0.0 equals 0.0 but encodes apart as JSON).
_MEMO_TYPES = (type(None), str, datetime)


def insert_many(con: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the first row's keys) into `table`: the same rows, bound by the same column type
    processors, as `con.execute(sa.insert(table), rows)`."""
    if not rows:
        return
    keys = list(rows[0])
    compiled = sa.insert(table).compile(dialect=con.dialect, column_keys=keys)
    names = compiled.positiontup if con.dialect.positional else None
    # Only when the statement binds exactly the rows' keys: a column default SQLAlchemy would fill in, or a key
    # that is not a column, goes through SQLAlchemy's own path.
    if names is None or sorted(names) != sorted(keys) or any(name not in table.c for name in names):
        con.execute(sa.insert(table), list(rows))
        return
    columns = [_bound([row[name] for row in rows], _processor(table.c[name].type, con.dialect)) for name in names]
    con.exec_driver_sql(compiled.string, list(zip(*columns, strict=True)))


def _processor(type_: sa.types.TypeEngine, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
    """The bind processor SQLAlchemy applies to a value of this column type on this dialect."""
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _bound(values: list[Any], process: Callable[[Any], Any] | None) -> list[Any]:
    if process is None:
        return values
    memo: dict[tuple, Any] = {}
    # Any other value is processed once per object: rows may share one (the actions' verdict lists), and one object
    # processes the same way each time (the rows are not changed while they are bound; `values` keeps each alive).
    by_object: dict[int, Any] = {}
    out = []
    for value in values:
        kind = type(value)
        if kind not in _MEMO_TYPES:
            try:
                out.append(by_object[id(value)])
            except KeyError:
                by_object[id(value)] = bound = process(value)
                out.append(bound)
            continue
        key = (kind, value, value.tzinfo, value.fold) if kind is datetime else (kind, value)
        try:
            out.append(memo[key])
        except KeyError:
            memo[key] = bound = process(value)
            out.append(bound)
    return out
