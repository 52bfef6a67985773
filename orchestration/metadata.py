"""What Dagster gets to see of the warehouse: counts, schemas and masked samples, never contact values.

Everything Actionhouse writes into Dagster metadata or run logs ends up in the Dagster home's run storage,
which is read by anyone with the UI and kept for as long as the run history. So tables are described by
their row count and column schema only, and where an example helps (a failing quality gate), each value is
masked by `mask_value`, the one masking helper: the shape of the value stays readable (`a***@e***.com`,
`+***67`, `J***`), the value itself does not. The full failing values stay in the warehouse
(`quality.expectation_results`), next to the contact data they came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dagster as dg

    from expectations.suite import SuiteResult

MASK = "***"
EMAIL_LIKE = re.compile(r"^\s*(?P<local>[^@\s]*)@(?P<domain>[^@\s]*?)(?P<suffix>\.[A-Za-z]{2,})?\s*$")
# Phone numbers and other long digit runs (ids are not contact data, but a phone can be stored as a number).
DIGITS_KEPT = 2
MIN_PHONE_DIGITS = 6


def mask_value(value: Any) -> str | None:
    """A value as it may appear in Dagster metadata or logs: its shape, not its content.

    Emails keep the first character of the mailbox and of the domain and the top-level domain
    (`ana.lopez@example.io` -> `a***@e***.io`); anything with six or more digits (phones) keeps its last two
    digits (`+14155550100` -> `+***00`); other text keeps its first character (`Lopez` -> `L***`); short
    values and booleans say only that something was there. None stays None.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return MASK
    text = str(value)
    email = EMAIL_LIKE.match(text)
    if email:
        local, domain = email["local"], email["domain"]
        suffix = email["suffix"] or ""
        return f"{local[:1]}{MASK}@{domain[:1]}{MASK}{suffix}"
    digits = re.sub(r"\D", "", text)
    if len(digits) >= MIN_PHONE_DIGITS:
        return f"{'+' if text.strip().startswith('+') else ''}{MASK}{digits[-DIGITS_KEPT:]}"
    stripped = text.strip()
    if len(stripped) < 3:
        return MASK
    return f"{stripped[:1]}{MASK}"


EMAIL_IN_TEXT = re.compile(r"[^\s@,;:'\"()<>|]+@[^\s@,;:'\"()<>|]+")
# The loader names a rejected file's header labels; a file without a header has a data row there.
HEADER_LABELS_IN_TEXT = re.compile(r"(header has: )([^)]*)")


def mask_text(text: str) -> str:
    """A message for Dagster's log with contact values masked: any email, and header labels no source knows
    (a file without a header shows its first data row there: names, emails, phones)."""
    from landing.contract import SOURCES

    known = {label.strip().lower() for spec in SOURCES.values() for label in spec.columns}

    def labels(match: re.Match[str]) -> str:
        shown = [
            label if label.strip().lower() in known else str(mask_value(label.strip()))
            for label in match.group(2).split(", ")
        ]
        return match.group(1) + ", ".join(shown)

    text = HEADER_LABELS_IN_TEXT.sub(labels, text)
    return EMAIL_IN_TEXT.sub(lambda match: str(mask_value(match.group())), text)


def table_schema(con, relation: str) -> dg.TableSchema:
    """Column names and types of a warehouse table (`schema.table` or `database.schema.table`)."""
    import dagster as dg

    schema, table = relation.replace('"', "").split(".")[-2:]
    columns = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return dg.TableSchema(columns=[dg.TableColumn(name=name, type=str(kind)) for name, kind in columns])


def table_metadata(con, relation: str) -> dict[str, Any]:
    """Row count and column schema of a warehouse table, as Dagster materialization metadata (no rows)."""
    schema, table = relation.replace('"', "").split(".")[-2:]
    row_count = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
    return {"dagster/row_count": row_count, "dagster/column_schema": table_schema(con, relation)}


def tables_metadata(con, relations: Iterable[str]) -> dict[str, dict[str, Any]]:
    """`table_metadata` of several tables, in two queries whatever their number (the row counts in one, the
    column schemas in one): per relation as given, each table's metadata equal to `table_metadata`'s."""
    import dagster as dg

    names = {relation: tuple(relation.replace('"', "").split(".")[-2:]) for relation in dict.fromkeys(relations)}
    if not names:
        return {}
    tables = sorted(set(names.values()))
    counts = con.execute(
        " union all ".join(
            f'select {i} as position, count(*) as row_count from "{schema}"."{table}"'
            for i, (schema, table) in enumerate(tables)
        )
    ).fetchall()
    row_counts = {tables[position]: row_count for position, row_count in counts}
    columns: dict[tuple[str, str], list[dg.TableColumn]] = {table: [] for table in tables}
    wanted = [f"{schema}.{table}" for schema, table in tables]
    for schema, table, name, kind in con.execute(
        "select table_schema, table_name, column_name, data_type from information_schema.columns "
        "where table_schema || '.' || table_name in (select unnest(?)) "
        "order by table_schema, table_name, ordinal_position",
        [wanted],
    ).fetchall():
        if (schema, table) in columns:
            columns[(schema, table)].append(dg.TableColumn(name=name, type=str(kind)))
    return {
        relation: {
            "dagster/row_count": row_counts[table],
            "dagster/column_schema": dg.TableSchema(columns=columns[table]),
        }
        for relation, table in names.items()
    }


def masked_examples(values: list[Any], limit: int = 3) -> str:
    """A few failing values for a log line or a metadata cell, each masked."""
    return ", ".join(str(mask_value(v)) for v in values[:limit])


def suite_result_markdown(result: SuiteResult) -> str:
    """A gate's result for the Dagster UI: one line per expectation, failing examples masked."""
    lines = ["| expectation | column | result | unexpected | examples (masked) |", "|---|---|---|---|---|"]
    for o in result.outcomes:
        unexpected = "" if o.unexpected_count is None else f"{o.unexpected_count:,}"
        examples = masked_examples(o.failing_examples, limit=len(o.failing_examples))
        lines.append(
            f"| {o.expectation} | {o.column or ''} | {'pass' if o.success else 'FAIL'} "
            f"| {unexpected} | {examples.replace('|', '/')} |"
        )
    return "\n".join(lines)
