"""W12 suppression: every reason to stop contacting someone becomes a suppression-list entry in the same
refresh (auto), and a contact the CRM does not yet show as unsubscribed gets a CRM unsubscribe action.

Signal: unsubscribe clicks, spam reports, hard bounces, CRM "unsubscribed from all email", replies the reply
model reads as "remove me" (W7 hands them here), customer domains (prospecting only), competitor domains
(policy). Decision: list the email/domain; unsubscribe in the CRM. Guardrail: the list is append-only and
overrides every other workflow. Done metric: unsubscribe compliance = 100%.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import polars as pl

from actions.catalog import Workflow
from actions.inputs import PlanningInputs
from actions.model import EvidenceRow, Proposal, ProposalStub, StubTarget
from actions.policy import Policy
from actions.suppression import LazyEntries, SuppressionEntry
from actions.workflows.common import ContactRows, contact_evidence, contact_index, contact_target

REPLY_TABLE = "ml.reply_classifications"
# Reasons that mean "this person asked us to stop": the CRM gets an unsubscribe too.
UNSUBSCRIBE_REASONS = ("unsubscribe", "spam_report")
# What a CRM unsubscribe's stub reads of its contact's row.
STUB_FIELDS = ("golden_contact_id", "golden_account_id", "contact_owner")
# The columns of `fct_suppression_signals` an entry is made of, in `suppression_entries`' order.
SIGNAL_FIELDS = (
    "kind", "value", "reason", "scope", "source_table", "source_key", "source_field", "source_value", "observed_at"
)
# An entry's key (`SuppressionEntry.key()`): what the planner and the list read of every entry offered.
KEY_FIELDS = ("kind", "value", "scope", "reason")


def unsubscribe_replies(inputs: PlanningInputs) -> pl.DataFrame:
    """Replies the reply model classes as unsubscribe ("remove me"), whatever their age."""
    return inputs.replies.filter(pl.col("predicted_class") == "unsubscribe")


def suppression_entries(inputs: PlanningInputs, policy: Policy) -> LazyEntries:
    """What this refresh puts on the suppression list (the list ignores what it already holds), in order: the
    signals' entries, those of unsubscribe replies, then the competitor domains.

    The signals' entries are built only when read (`LazyEntries`): ~146,000 an hour at 1M contacts, nearly all
    listed already, so the planner and the list read only their keys."""
    sources = set(policy.suppression.sources)
    listed = sources if policy.suppression.customers_for_prospecting else sources - {"customer"}
    # The signals the policy lists, in their order; their keys read column by column (a dict per row cost more than
    # the entry).
    signals = inputs.suppression_signals.filter(pl.col("reason").is_in(sorted(listed)))
    keys = list(zip(*(signals.get_column(name).to_list() for name in KEY_FIELDS), strict=True))
    extra: list[SuppressionEntry] = []
    if "unsubscribe" in sources:
        contacts = contact_index(
            inputs.contacts.filter(
                pl.col("golden_contact_id").is_in(unsubscribe_replies(inputs)["golden_contact_id"].implode())
            )
        )
        for reply in unsubscribe_replies(inputs).iter_rows(named=True):
            contact = contacts.get(reply["golden_contact_id"])
            for email in contact_target(contact).emails if contact else []:
                extra.append(
                    SuppressionEntry(
                        kind="email",
                        value=email,
                        reason="unsubscribe",
                        scope="all",
                        source=f"{REPLY_TABLE} {reply['event_id']}",
                        evidence={
                            "predicted_class": "unsubscribe",
                            "confidence": reply["confidence"],
                            "replied_at": str(reply["replied_at"]),
                        },
                    )
                )
    if "competitor_domain" in sources:
        extra.extend(
            SuppressionEntry(
                kind="domain",
                value=domain,
                reason="competitor_domain",
                scope="all",
                source="policy suppression.competitor_domains",
            )
            for domain in policy.suppression.competitor_domains
        )
    return LazyEntries(keys, _SignalEntries(signals.select(SIGNAL_FIELDS)).entry, extra)


class _SignalEntries:
    """The listed signals' entries by position. A few (an hour's new signals) are read row by row; from
    `_ROWS_AT_MOST` on, the columns are read whole once (a full build's every entry)."""

    _ROWS_AT_MOST = 1000

    def __init__(self, signals: pl.DataFrame) -> None:
        self._signals = signals  # `SIGNAL_FIELDS`, in that order
        self._columns: list[list[Any]] | None = None
        self._rows_read = 0

    def _row(self, i: int) -> tuple[Any, ...]:
        if self._columns is None and self._rows_read < self._ROWS_AT_MOST:
            self._rows_read += 1
            return self._signals.row(i)
        if self._columns is None:
            self._columns = [self._signals.get_column(name).to_list() for name in SIGNAL_FIELDS]
        return tuple(column[i] for column in self._columns)

    def entry(self, i: int) -> SuppressionEntry:
        """The entry of the i-th listed signal."""
        kind, value, reason, scope, source_table, source_key, source_field, source_value, observed_at = self._row(i)
        return SuppressionEntry(
            kind=kind,
            value=value,
            reason=reason,
            scope=scope,
            source=f"{source_table} {source_key}",
            evidence={
                "source_field": str(source_field) if source_field is not None else None,
                "source_value": str(source_value) if source_value is not None else None,
                "observed_at": str(observed_at) if observed_at is not None else None,
            },
        )


def unsubscribe_proposals(inputs: PlanningInputs, policy: Policy) -> list[ProposalStub]:
    """A CRM unsubscribe for each contact that asked to stop (click, spam report or reply) and that the CRM
    does not already show as unsubscribed (as stubs: the planner builds the proposals whose slot is free)."""
    signals = inputs.suppression_signals.filter(
        (pl.col("kind") == "email") & pl.col("reason").is_in(UNSUBSCRIBE_REASONS)
    ).select(
        pl.col("value").alias("email"),
        "reason",
        "source_table",
        "source_key",
        "source_field",
        "source_value",
        "observed_at",
    )
    replies = unsubscribe_replies(inputs)
    reply_rows = replies.join(
        inputs.contacts.select("golden_contact_id", "email"), on="golden_contact_id", how="inner"
    ).select(
        "email",
        pl.lit("unsubscribe").alias("reason"),
        pl.lit(REPLY_TABLE).alias("source_table"),
        pl.col("event_id").alias("source_key"),
        pl.lit("predicted_class").alias("source_field"),
        pl.lit("unsubscribe").alias("source_value"),
        pl.col("replied_at").alias("observed_at"),
    )
    asked = pl.concat([signals, reply_rows], how="vertical_relaxed")
    if asked.is_empty():
        return []
    by_email = (
        inputs.contacts.filter(~pl.col("is_crm_unsubscribed").fill_null(False))
        .select("golden_contact_id", pl.col("emails"))
        .explode("emails")
        .rename({"emails": "email"})
        .drop_nulls("email")
    )
    # Oldest first, ties broken by the rest of the row: the join's output order is not fixed, and the first row
    # names the reason and channel of the proposal, so it must not depend on thread timing.
    matched = asked.join(by_email, on="email", how="inner").sort(
        "observed_at", "golden_contact_id", "source_table", "source_key", "source_field", "reason", "email",
        nulls_last=True,
    )
    of_matched = inputs.contacts.filter(pl.col("golden_contact_id").is_in(matched["golden_contact_id"].implode()))
    # A stub reads its contact's account and owner; the whole row (the proposal's target and evidence) is read only
    # for the stubs built, a few an hour (indexing ~36,000 whole rows an hour at 1M contacts cost ~0.1 s).
    contacts = contact_index(of_matched.select(STUB_FIELDS))
    whole = ContactRows(of_matched)
    proposals = []
    # Grouped per contact in one pass over the rows, in order of first appearance (a frame per contact cost more
    # than the work on it).
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in matched.iter_rows(named=True):
        grouped.setdefault(r["golden_contact_id"], []).append(r)
    for golden_id, rows in grouped.items():
        contact = contacts[golden_id]
        proposals.append(
            ProposalStub(
                Workflow.SUPPRESSION,
                "crm_unsubscribe",
                StubTarget("contact", golden_id, contact.get("golden_account_id")),
                "opted_out",
                contact["contact_owner"],
                partial(_unsubscribe, golden_id, whole, rows),
            )
        )
    return proposals


def _unsubscribe(golden_id: str, contacts: ContactRows, rows: list[dict[str, Any]]) -> Proposal:
    contact = contacts[golden_id]
    first: dict[str, Any] = rows[0]
    how = {"unsubscribe": "asked to unsubscribe", "spam_report": "reported our email as spam"}[first["reason"]]
    via = "in a reply" if first["source_table"] == REPLY_TABLE else "by email"
    evidence = [
        EvidenceRow(
            source_table=r["source_table"],
            key=r["source_key"],
            field=r["source_field"],
            value=r["source_value"],
            observed_at=r["observed_at"],
        )
        for r in rows
    ]
    evidence += contact_evidence(contact, "is_crm_unsubscribed")
    return Proposal(
        workflow=Workflow.SUPPRESSION,
        action_type="crm_unsubscribe",
        target=contact_target(contact),
        payload={"subscription": "all_email", "legal_basis": "opt_out", "reason": first["reason"]},
        reasons=[
            f"{contact['contact_name'] or golden_id} {how} {via}"
            + (f" on {first['observed_at']:%Y-%m-%d}" if first["observed_at"] else ""),
            "The CRM does not show them as unsubscribed yet; they are on the suppression list already.",
        ],
        evidence=evidence,
        evidence_window="opted_out",
        owner=contact["contact_owner"],
    )
