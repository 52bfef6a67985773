"""The kinds of action Actionhouse can propose, and what each one touches.

`customer_facing`: a customer sees the result (a send, a sequence step, a meeting proposal); always `approve`
unless the policy names it in `auto_customer_facing`, and counted against the per-account weekly cap.
`reaches_contact`: it leads someone to contact the person (a task to call back, a new owner, a follow-up date):
the suppression list blocks it. Actions that protect or clean data (unsubscribe in the CRM, merges, enrichment
reviews, escalations of legal threats to a person) are not blocked by suppression: they reduce risk.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Workflow(StrEnum):
    """Workflows of the catalogue (`../shared/spec/WORKFLOWS.md`) that propose actions."""

    SUPPRESSION = "suppression"  # W12
    REPLY_ROUTING = "reply_routing"  # W7
    LEAD_ROUTING = "lead_routing"  # W4
    SLA = "sla"  # W10
    MERGES = "merges"  # W3
    ENRICHMENT = "enrichment"  # W2
    AT_RISK = "at_risk"  # W13
    HYGIENE = "hygiene"  # W11
    NO_SHOW = "no_show"  # W9
    MEETINGS = "meetings"  # W8
    SEQUENCES = "sequences"  # W5
    SEQUENCE_DRAFTS = "sequence_drafts"  # W6 (the emails of each proposed sequence's steps)
    MULTITHREADING = "multithreading"  # W12 (buying-committee gaps)


WORKFLOW_LABELS = {
    Workflow.SUPPRESSION: "suppression",
    Workflow.REPLY_ROUTING: "reply routing",
    Workflow.LEAD_ROUTING: "routing",
    Workflow.SLA: "SLA",
    Workflow.MERGES: "merges",
    Workflow.ENRICHMENT: "enrichment reviews",
    Workflow.AT_RISK: "at-risk saves",
    Workflow.HYGIENE: "CRM hygiene",
    Workflow.NO_SHOW: "no-show recovery",
    Workflow.MEETINGS: "meeting proposals",
    Workflow.SEQUENCES: "sequence selection",
    Workflow.SEQUENCE_DRAFTS: "sequence drafts",
    Workflow.MULTITHREADING: "multi-threading",
}


class RiskClass(StrEnum):
    """How an action is executed: without review, after a person approves, or never (context only)."""

    AUTO = "auto"
    APPROVE = "approve"
    NEVER = "never"


RISK_ORDER = {RiskClass.AUTO: 0, RiskClass.APPROVE: 1, RiskClass.NEVER: 2}


def stricter(a: RiskClass, b: RiskClass) -> RiskClass:
    """The stricter of two risk classes (auto < approve < never)."""
    return a if RISK_ORDER[a] >= RISK_ORDER[b] else b


@dataclass(frozen=True)
class ActionType:
    """One kind of action: its name, what it does in words and what it touches."""

    name: str
    does: str
    customer_facing: bool = False
    reaches_contact: bool = False
    editable: tuple[str, ...] = ()


# The merges workflow's action types: a person may record a sent one as wrong (split) — the incorrect merge rate.
MERGE_ACTION_TYPES = frozenset({"merge_contacts"})

ACTION_TYPES: dict[str, ActionType] = {
    t.name: t
    for t in (
        ActionType("crm_unsubscribe", "unsubscribes the contact from all email in the CRM"),
        ActionType(
            "create_task",
            "creates a task for the owner in the CRM",
            reaches_contact=True,
            editable=("subject", "due_at", "assignee", "notes"),
        ),
        ActionType(
            "set_follow_up_date",
            "sets the contact's follow-up date in the CRM",
            reaches_contact=True,
            editable=("follow_up_date",),
        ),
        ActionType(
            "escalate_reply",
            "creates a task for a person to read a reply and decide; no reply is sent",
            editable=("assignee", "notes"),
        ),
        ActionType(
            "add_referred_contact",
            "adds the person a contact referred us to, with the same owner",
            editable=("first_name", "last_name", "email", "job_title"),
        ),
        ActionType(
            "assign_owner", "changes the contact owner in the CRM", reaches_contact=True, editable=("new_owner",)
        ),
        ActionType(
            "sla_escalation",
            "creates an overdue-follow-up task for the owner and notifies their manager",
            reaches_contact=True,
            editable=("assignee", "notes"),
        ),
        ActionType("merge_contacts", "merges two contact records in the CRM", editable=("primary_record_id",)),
        # Customer-facing sends: proposed by the outreach workflows (sequences, drafts, meetings, saves).
        ActionType(
            "send_email",
            "sends a one-to-one email to the contact from the owner",
            customer_facing=True,
            reaches_contact=True,
            editable=("subject", "body"),
        ),
        ActionType(
            "enroll_sequence",
            "enrolls the contact in an email sequence sent by the owner",
            customer_facing=True,
            reaches_contact=True,
            editable=("sequence_id",),
        ),
        ActionType("update_deal", "changes fields (or the stage) of a deal in the CRM", editable=("properties",)),
        ActionType(
            "flag_deal",
            "flags the deal in the CRM with what it is missing (next step, close date, amount, primary contact)",
        ),
        ActionType(
            "escalate_renewal",
            "marks the renewal deal high priority and at risk in the CRM, with the signals, for the save play",
            editable=("properties",),
        ),
        ActionType("apply_enrichment", "writes a vendor value into a contact field in the CRM", editable=("value",)),
        ActionType("add_note", "adds a note to the contact's timeline in the CRM", editable=("body",)),
    )
}
