"""Field syncs: each golden contact's scores written to its CRM contact record, and each customer account's risk
verdict to its CRM company record — only where they changed since the CRM last confirmed them.

The ledger (`sync_ledger`) holds, per CRM record, the hash and values the CRM acknowledged — never what was only
attempted — so a crash between a write and its acknowledgement resends the row next time (the same values: an
idempotent update). A property a person changed in the CRM since it was last confirmed is left as they set it,
unless the policy lists it in `sync.owned_properties`; the ledger remembers it is theirs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl
import sqlalchemy as sa

from ops_store.schema import sync_ledger, utc_now

CONTACT_FIELDS = (
    "actionhouse_fit_score",
    "actionhouse_intent_score",
    "actionhouse_combined_score",
    "actionhouse_tier",
    "actionhouse_reasons",
    "actionhouse_model_version",
)
COMPANY_FIELDS = (
    "actionhouse_risk_verdict",
    "actionhouse_risk_tier",
    "actionhouse_risk_signals",
    "actionhouse_risk_as_of",
)
# Synced properties per CRM object type.
FIELDS_BY_OBJECT = {"contacts": CONTACT_FIELDS, "companies": COMPANY_FIELDS}
KEPT = "__kept_for_a_person__"
REJECTED = "__rejected__"


def desired_contact_fields(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per golden contact's anchor CRM record: the published scores as CRM property values (text)."""
    return con.sql(
        """
        select cast(x.source_record_id as varchar) as record_id,
               cast(s.fit_score as varchar) as actionhouse_fit_score,
               cast(s.intent_score as varchar) as actionhouse_intent_score,
               cast(s.combined_score as varchar) as actionhouse_combined_score,
               cast(s.tier as varchar) as actionhouse_tier,
               left(coalesce(s.reasons[1], ''), 500) as actionhouse_reasons,
               s.model_version as actionhouse_model_version
        from ml.lead_scores as s
        inner join marts.contact_crosswalk as x on x.golden_contact_id = s.contact_id and x.is_anchor_record
        order by record_id
        """
    ).pl()


def desired_company_fields(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per customer account's anchor CRM company record (its lowest id): the risk verdict as company property
    values (text): verdict, tier and triggering signals (both cleared when healthy) and the data day it is as of."""
    return con.sql(
        """
        select cast(company_record_ids[1] as varchar) as record_id,
               verdict as actionhouse_risk_verdict,
               cast(risk_tier as varchar) as actionhouse_risk_tier,
               nullif(left(array_to_string(triggering_signals, '; '), 500), '') as actionhouse_risk_signals,
               cast(cast(as_of as date) as varchar) as actionhouse_risk_as_of
        from marts.fct_account_risk
        where len(company_record_ids) > 0
        order by record_id
        """
    ).pl()


def values_hashes(desired: pl.DataFrame) -> list[str]:
    """SHA-256 of each row's synced values as canonical JSON (keys sorted, compact), without building Python dicts
    for every row: a million contacts hash in about a second."""
    fields = sorted(c for c in desired.columns if c != "record_id")
    encoded = desired.select(pl.struct(fields).struct.json_encode().alias("values_json"))["values_json"]
    return [hashlib.sha256(text.encode()).hexdigest() for text in encoded]


@dataclass
class FieldChange:
    """One record whose values differ from what the CRM confirmed."""

    record_id: str
    values: dict[str, Any]
    values_hash: str
    previous: dict[str, Any] | None
    kept: set[str] = field(default_factory=set)
    person_values: dict[str, Any] = field(default_factory=dict)

    def to_write(self) -> dict[str, Any]:
        """The properties to send (a person's edits left alone)."""
        return {k: v for k, v in self.values.items() if k not in self.kept}


def changed_rows(
    engine: sa.Engine, connection: str, object_type: str, desired: pl.DataFrame
) -> tuple[list[FieldChange], int]:
    """Records whose desired values' hash differs from the ledger's (the CRM-confirmed state), and how many
    rows were unchanged."""
    fields = [c for c in desired.columns if c != "record_id"]
    hashes = values_hashes(desired)
    with engine.connect() as con:
        ledger = dict(
            con.execute(
                sa.select(sync_ledger.c.record_id, sync_ledger.c.values_hash).where(
                    sync_ledger.c.connection == connection, sync_ledger.c.object_type == object_type
                )
            ).all()
        )
    record_ids = desired["record_id"].to_list()
    differs = [ledger.get(r) != h for r, h in zip(record_ids, hashes, strict=True)]
    changed = desired.with_columns(pl.Series("values_hash", hashes)).filter(pl.Series(differs))
    rows = changed.select("record_id", "values_hash", pl.struct(fields).alias("values")).to_dicts()
    known = [r["record_id"] for r in rows if r["record_id"] in ledger]
    previous = _previous_values(engine, connection, object_type, known)
    return (
        [FieldChange(r["record_id"], r["values"], r["values_hash"], previous.get(r["record_id"])) for r in rows],
        desired.height - len(rows),
    )


def _previous_values(engine: sa.Engine, connection: str, object_type: str, ids: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    with engine.connect() as con:
        for start in range(0, len(ids), 500):
            rows = con.execute(
                sa.select(sync_ledger.c.record_id, sync_ledger.c["values"]).where(
                    sync_ledger.c.connection == connection,
                    sync_ledger.c.object_type == object_type,
                    sync_ledger.c.record_id.in_(ids[start : start + 500]),
                )
            )
            out.update({record_id: values for record_id, values in rows})
    return out


def mark_person_edits(changes: Iterable[FieldChange], current: dict[str, dict], owned: set[str]) -> int:
    """Leave alone every property a person changed in the CRM since the ledger's confirmed value (or kept from
    an earlier run), unless the policy owns it. Returns how many properties were kept for a person."""
    kept = 0
    for change in changes:
        if not change.previous:
            continue
        now = current.get(change.record_id, {})
        already = set(change.previous.get(KEPT, []))
        for name in change.values:
            if name in owned:
                continue
            confirmed = change.previous.get(name)
            crm_value = now.get(name)
            if name in already or (name in now and crm_value != confirmed):
                change.kept.add(name)
                change.person_values[name] = crm_value if name in now else confirmed
                kept += 1
    return kept


def confirm(
    engine: sa.Engine, connection: str, object_type: str, changes: Iterable[FieldChange], rejected: bool = False
) -> None:
    """Record in the ledger what the CRM acknowledged for these records (one transaction)."""
    now = utc_now()
    rows = []
    for change in changes:
        values = dict(change.to_write())
        for name in change.kept:
            values[name] = change.person_values.get(name)
        values[KEPT] = sorted(change.kept)
        if rejected:
            values[REJECTED] = True
        rows.append({"record_id": change.record_id, "values_hash": change.values_hash, "values": values})
    if not rows:
        return
    with engine.begin() as con:
        ids = [r["record_id"] for r in rows]
        for start in range(0, len(ids), 500):
            con.execute(
                sa.delete(sync_ledger).where(
                    sync_ledger.c.connection == connection,
                    sync_ledger.c.object_type == object_type,
                    sync_ledger.c.record_id.in_(ids[start : start + 500]),
                )
            )
        con.execute(
            sa.insert(sync_ledger),
            [{"connection": connection, "object_type": object_type, "confirmed_at": now, **r} for r in rows],
        )
