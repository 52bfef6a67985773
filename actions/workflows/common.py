"""Helpers the workflows share: targets and evidence rows from the candidate marts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import polars as pl

from actions.model import CrmRef, EvidenceRow, Target

CONTACTS_TABLE = "marts.fct_action_contacts"
SCORES_TABLE = "ml.lead_scores"


def contact_index(contacts: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """Golden contact id -> its row (as a dict) from `fct_action_contacts` (+ tier).

    The rows are built from the columns as Python lists (what `iter_rows(named=True)` gives, in ~2/3 of the time:
    ten workflows index tens of thousands of contacts each at 1M contacts)."""
    return {row["golden_contact_id"]: row for row in rows_of(contacts)}


def rows_of(frame: pl.DataFrame) -> Iterator[dict[str, Any]]:
    """The frame's rows as dicts, what `iter_rows(named=True)` gives, built from the columns as Python lists."""
    names = frame.columns
    columns = [frame.get_column(name).to_list() for name in names]
    return (dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True))


def column_rows(frame: pl.DataFrame, names: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """The named columns' values row by row, as tuples (what a workflow reads of every candidate row, where a dict
    of the whole row per candidate cost more than the rest of its work)."""
    return zip(*(frame.get_column(name).to_list() for name in names), strict=True)


class FrameRows:
    """A frame's rows by position, each as `iter_rows(named=True)` gives it, for the few rows a workflow builds.

    The first `by_position` rows asked for are read alone (`DataFrame.row`, ~2x a row of a whole pass); after that
    the whole frame is read once, column by column (a full build, or anything reading every blocked proposal, asks
    for most rows)."""

    def __init__(self, frame: pl.DataFrame, by_position: int = 1_000) -> None:
        self._frame = frame
        self._by_position = by_position
        self._rows: list[dict[str, Any]] | None = None

    def __getitem__(self, position: int) -> dict[str, Any]:
        if self._rows is not None:
            return self._rows[position]
        if self._by_position > 0:
            self._by_position -= 1
            return self._frame.row(position, named=True)
        self._rows = list(rows_of(self._frame))
        return self._rows[position]


class ContactRows:
    """Golden contact id -> its whole row, as `contact_index` gives it, for the few rows a workflow builds (read as
    `FrameRows` reads them). A contact listed twice gives its last row, as `contact_index` keeps it."""

    def __init__(self, contacts: pl.DataFrame, by_position: int = 1_000) -> None:
        self._at = {key: i for i, key in enumerate(contacts.get_column("golden_contact_id").to_list())}
        self._rows = FrameRows(contacts, by_position)

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self._rows[self._at[key]]


def contact_target(row: dict[str, Any]) -> Target:
    """The action target for a golden contact row."""
    emails = sorted({e for e in (row.get("emails") or []) if e} | ({row["email"]} if row.get("email") else set()))
    label = row.get("contact_name") or row["golden_contact_id"]
    if row.get("company_name"):
        label = f"{label} ({row['company_name']})"
    return Target(
        kind="contact",
        id=row["golden_contact_id"],
        label=label,
        crm_ids=[CrmRef(object_type="contacts", record_id=str(r)) for r in (row.get("crm_record_ids") or [])],
        emails=emails,
        domain=row.get("account_domain"),
        account_id=row.get("golden_account_id"),
        country=row.get("country_code"),
        industry=row.get("industry"),
    )


def contact_evidence(row: dict[str, Any], *fields: str) -> list[EvidenceRow]:
    """Evidence rows for fields of the golden contact (owner, country, tier, open deals, ...)."""
    out = []
    for name in fields:
        table = SCORES_TABLE if name in ("tier", "combined_score") else CONTACTS_TABLE
        column = name
        value = row.get(name)
        out.append(EvidenceRow(source_table=table, key=row["golden_contact_id"], field=column, value=_plain(value)))
    return out


def _plain(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 text of a time (for payloads)."""
    return moment.isoformat() if moment is not None else None


def hours_between(start: datetime, end: datetime) -> float:
    """Hours from start to end."""
    return (end - start).total_seconds() / 3600


MEETINGS_TABLE = "staging.stg_hubspot__meetings"


def meeting_outcome(meeting_id: Any, outcome: str, at: datetime | None) -> EvidenceRow:
    """The evidence row of a meeting's recorded outcome (`COMPLETED`, `NO_SHOW`, ...) at the time it applies to."""
    return EvidenceRow(
        source_table=MEETINGS_TABLE, key=str(meeting_id), field="meeting_outcome", value=outcome, observed_at=at
    )
