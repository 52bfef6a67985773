"""W13 at-risk account saves: a customer account the verdict calls at risk gets an outreach draft for its owner
and, at the top tier, an escalation of its renewal deal — both for a person to approve.

Signal: `marts.fct_account_risk` — per customer account its verdict, risk tier and the signals that triggered it
with their numbers and rows (escalated support cases, product usage 4 weeks vs the 4 before, renewal date, last
meaningful contact); the verdict is kept there (and in `fct_account_risk_history`) whether or not anybody acts.
Decision: tiers in `at_risk.outreach_tiers` -> `send_email`: a draft grounded in the account's fields (template
per strongest signal, `actions.drafts`) to the account's most engaged contact, from the owner; tiers in
`at_risk.escalate_tiers` with an open renewal deal -> `escalate_renewal`. Guardrail: both `approve`; the draft is
not proposed when the record lacks a field the template needs (named) or the text hits a banned claim or topic;
suppression, restricted lists and the weekly account cap apply to the email. Done metric: saves per month; renewal
rate of flagged accounts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from actions.catalog import Workflow
from actions.drafts import render_draft
from actions.guardrails import Blocked
from actions.inputs import PlanningInputs
from actions.model import CrmRef, EvidenceRow, Proposal, Target
from actions.policy import Policy
from actions.workflows.common import CONTACTS_TABLE, contact_target

RISK_TABLE = "marts.fct_account_risk"
TICKETS_TABLE = "staging.stg_hubspot__tickets"
DEALS_TABLE = "staging.stg_hubspot__deals"


def _date_words(value: Any) -> str | None:
    return value.strftime("%d %B %Y").lstrip("0") if value is not None else None


def account_target(row: dict[str, Any]) -> Target:
    """The action target for a golden account row of the verdict mart."""
    return Target(
        kind="account",
        id=row["golden_account_id"],
        label=row.get("company_name") or row["golden_account_id"],
        crm_ids=[CrmRef(object_type="companies", record_id=str(r)) for r in (row.get("company_record_ids") or [])],
        domain=row.get("account_domain"),
        account_id=row["golden_account_id"],
    )


def verdict_evidence(row: dict[str, Any]) -> list[EvidenceRow]:
    """The verdict's rows: tier, each signal's numbers, and every escalated case it counted."""
    as_of: datetime | None = row.get("as_of")
    key = row["golden_account_id"]

    def ev(field: str, value: Any, table: str = RISK_TABLE, k: str = key, at: datetime | None = as_of) -> EvidenceRow:
        plain = value if value is None or isinstance(value, str | int | float | bool) else str(value)
        return EvidenceRow(source_table=table, key=k, field=field, value=plain, observed_at=at)

    rows = [ev("verdict", row["verdict"]), ev("risk_tier", row["risk_tier"])]
    rows.append(ev("escalated_cases", row["escalated_cases"]))
    for ticket in row.get("escalated_case_ids") or []:
        rows.append(ev("is_escalated", True, TICKETS_TABLE, str(ticket), None))
    rows += [
        ev("usage_change_pct", row.get("usage_change_pct")),
        ev(
            "recent_vs_prior_active_user_days",
            f"{row.get('recent_active_user_days')} vs {row.get('prior_active_user_days')} "
            f"({row.get('usage_window_start')}..{row.get('usage_window_end')})",
        ),
        ev("usage_change_z", row.get("usage_change_z")),
        ev("renewal_date", row.get("renewal_date")),
        ev("days_to_renewal", row.get("days_to_renewal")),
        ev("days_since_contact", row.get("days_since_contact")),
    ]
    if row.get("last_contact_id") is not None:
        rows.append(
            ev(
                "last_contact",
                row.get("last_contact_kind"),
                "staging.stg_hubspot__activities",
                str(row["last_contact_id"]),
                row.get("last_contact_at"),
            )
        )
    return rows


def _verdict_reason(row: dict[str, Any]) -> str:
    signals = "; ".join(row.get("triggering_signals") or [])
    return (
        f"{row.get('company_name') or row['golden_account_id']} is at risk (tier {row['risk_tier']}) as of "
        f"{row['as_of']:%Y-%m-%d}: {signals}."
    )


def _pick_contacts(contacts: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """Account id -> the account's contact to write to: reachable (an email, not unsubscribed in the CRM, not junk),
    the most engaged first (combined score), then by id for a stable choice.

    One sort of every account's contacts, not a filter and sort per account (3,000 of them at 1M contacts); within
    an account the order is the per-account sort's."""
    usable = contacts.filter(
        pl.col("golden_account_id").is_not_null()
        & pl.col("email").is_not_null()
        & ~pl.col("is_crm_unsubscribed").fill_null(False)
        & ~pl.col("is_junk").fill_null(False)
    )
    first = usable.sort(
        ["golden_account_id", "combined_score", "golden_contact_id"],
        descending=[False, True, False],
        nulls_last=True,
        maintain_order=True,
    ).unique(subset="golden_account_id", keep="first", maintain_order=True)
    return {row["golden_account_id"]: row for row in first.iter_rows(named=True)}


def at_risk_proposals(inputs: PlanningInputs, policy: Policy) -> list[Proposal | Blocked]:
    """Outreach drafts and renewal escalations for accounts at risk; drafts the policy refuses come back as
    `Blocked` with the rule (a missing field, a banned claim or topic, no contact to write to)."""
    settings = policy.at_risk
    if settings is None:
        return []
    at_risk = inputs.account_risk.filter(pl.col("risk_tier").is_in(settings.outreach_tiers + settings.escalate_tiers))
    if at_risk.is_empty():
        return []
    contact_of_account = _pick_contacts(
        inputs.contacts.filter(pl.col("golden_account_id").is_in(at_risk["golden_account_id"].implode()))
    )
    out: list[Proposal | Blocked] = []
    for row in at_risk.sort("risk_tier", "golden_account_id").iter_rows(named=True):
        account = row["golden_account_id"]
        tier = row["risk_tier"]
        window = f"account={account}|tier={tier}|renewal={row.get('renewal_date')}"
        evidence = verdict_evidence(row)
        reason = _verdict_reason(row)
        if tier in settings.outreach_tiers:
            out.append(_outreach(row, window, evidence, reason, contact_of_account.get(account), policy))
        if tier in settings.escalate_tiers and row.get("renewal_deal_id") is not None:
            out.append(_escalation(row, window, evidence, reason))
    return out


def _outreach(
    row: dict[str, Any],
    window: str,
    evidence: list[EvidenceRow],
    reason: str,
    contact: dict[str, Any] | None,
    policy: Policy,
) -> Proposal | Blocked:
    settings = policy.at_risk
    assert settings is not None
    signal = "escalations" if row["has_an_escalation"] else "usage_drop"
    template_name = settings.templates[signal]
    template = policy.drafts.templates[template_name]
    owner = row.get("account_owner")
    if contact is None:
        proposal = Proposal(
            workflow=Workflow.AT_RISK,
            action_type="send_email",
            target=account_target(row),
            payload={"template": template_name, "risk_tier": row["risk_tier"]},
            reasons=[reason, "No reachable contact at the account to write to."],
            evidence=evidence,
            evidence_window=window,
            owner=owner,
        )
        return Blocked(proposal, "at_risk.no_contact", "no contact at the account has a usable email")
    record = {
        "contact_first_name": contact.get("first_name"),
        "company_name": row.get("company_name"),
        "renewal_date": _date_words(row.get("renewal_date")),
        "owner_name": owner,
    }
    draft = render_draft(
        template_name,
        template.subject,
        template.body,
        record,
        policy.content.banned_claims,
        policy.content.topic_phrase_map(),
    )
    contact_evidence_rows = [
        EvidenceRow(
            source_table=CONTACTS_TABLE,
            key=contact["golden_contact_id"],
            field="first_name",
            value=contact.get("first_name"),
        ),
        EvidenceRow(
            source_table=CONTACTS_TABLE, key=contact["golden_contact_id"], field="email", value=contact.get("email")
        ),
    ]
    proposal = Proposal(
        workflow=Workflow.AT_RISK,
        action_type="send_email",
        target=contact_target(contact),
        payload={
            **({"subject": draft.subject, "body": draft.body} if not draft.blocked else {}),
            "template": template_name,
            "field_map": draft.field_map,
            "risk_tier": row["risk_tier"],
            "account": row["golden_account_id"],
            "prospecting": False,
        },
        reasons=[
            reason,
            f"Outreach to {contact.get('contact_name') or contact['golden_contact_id']} drafted from template "
            f"{template_name} (strongest signal: {signal.replace('_', ' ')}); every value in it comes from the "
            "field map. The owner reviews, edits and sends it.",
        ],
        evidence=evidence + contact_evidence_rows,
        evidence_window=window,
        owner=owner,
    )
    if draft.blocked:
        return Blocked(proposal, draft.blocked_rule or "drafts", draft.blocked_reason or "")
    return proposal


def _escalation(row: dict[str, Any], window: str, evidence: list[EvidenceRow], reason: str) -> Proposal:
    deal = str(row["renewal_deal_id"])
    signals = "; ".join(row.get("triggering_signals") or [])
    return Proposal(
        workflow=Workflow.AT_RISK,
        action_type="escalate_renewal",
        target=Target(
            kind="deal",
            id=f"deal-{deal}",
            label=f"{row.get('company_name') or row['golden_account_id']} renewal",
            crm_ids=[CrmRef(object_type="deals", record_id=deal)]
            + [CrmRef(object_type="companies", record_id=str(r)) for r in (row.get("company_record_ids") or [])],
            domain=row.get("account_domain"),
            account_id=row["golden_account_id"],
        ),
        payload={
            "properties": {
                "hs_priority": "high",
                "actionhouse_risk_tier": str(row["risk_tier"]),
                "actionhouse_risk_signals": signals[:500],
            },
            "risk_tier": row["risk_tier"],
            "account": row["golden_account_id"],
        },
        reasons=[
            reason,
            f"Escalate the renewal deal {deal} (stage {row.get('renewal_deal_stage')}, closing "
            f"{row.get('renewal_date')}): high priority, with the signals, so a manager steps in.",
        ],
        evidence=evidence
        + [
            EvidenceRow(source_table=DEALS_TABLE, key=deal, field="deal_stage", value=row.get("renewal_deal_stage")),
        ],
        evidence_window=window,
        owner=row.get("account_owner"),
    )
