"""From an approved action to the CRM request that carries it out, in CRM-neutral terms.

Each writer (`reverse_etl/sync/writers.py`) turns these into its CRM's API calls: HubSpot's properties and
endpoints, or Salesforce's objects and fields. The action id is the idempotency key of every request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from actions.queue import StoredAction

# Request kinds in the order a sync sends them: records exist before tasks point at them, merges go last.
KINDS = ("contact_create", "contact_update", "deal_update", "task", "note", "sequence", "unsubscribe", "merge")
TASK_TYPES = {"send_email": "EMAIL", "sla_escalation": "TODO", "escalate_reply": "TODO", "create_task": "TODO"}
# Golden-record fields a vendor value can fill -> the neutral contact field writers map to CRM properties.
ENRICHMENT_FIELDS = {
    "job_title": "job_title",
    "phone": "phone",
    "mobile_phone": "mobile_phone",
    "linkedin_url": "linkedin_url",
    "city": "city",
    "country": "country",
    "country_code": "country_code",
    "seniority": "seniority",
}


class Unsendable(ValueError):
    """The action cannot become a CRM request (said why); it is dead-lettered, not retried."""


@dataclass(frozen=True)
class CrmRequest:
    """One CRM write: its kind, the record it touches and what to write (neutral field names)."""

    action_id: str
    kind: str
    object_type: str
    record_id: str | None
    payload: dict[str, Any]


def anchor_record(action: StoredAction) -> str | None:
    """The CRM contact record an action on a golden contact writes to: the cluster's anchor record (the one the
    golden id is named after), else its first record."""
    records = [r["record_id"] for r in action.target_crm_ids if r["object_type"] == "contacts"]
    if not records:
        return None
    anchor = action.target_id.removeprefix("gc-")
    return anchor if anchor in records else records[0]


def _split_name(name: str | None) -> tuple[str | None, str | None]:
    parts = (name or "").split()
    return (parts[0], " ".join(parts[1:]) or None) if parts else (None, None)


def build_request(action: StoredAction, nurture_owner: str | None = None) -> CrmRequest:
    """The request for an approved action's (possibly edited) payload; raises `Unsendable` with the reason."""
    payload = action.effective_payload
    kind = action.action_type
    record = anchor_record(action)

    def needs_record() -> str:
        if record is None:
            raise Unsendable(f"{kind} needs a CRM contact record and {action.target_id} has none")
        return record

    if kind in TASK_TYPES:
        subject = payload.get("subject") or {
            "sla_escalation": f"Overdue follow-up: {action.target_label or action.target_id}",
            "escalate_reply": f"Read and answer a reply: {action.target_label or action.target_id}",
        }.get(kind, action.reasons[0])
        body = payload.get("body") or payload.get("notes") or " ".join(action.reasons)
        owner = payload.get("assignee") or action.owner
        due = payload.get("due_at") or action.proposed_at.isoformat()
        return CrmRequest(
            action.action_id,
            "task",
            "tasks",
            record,
            {
                "subject": subject,
                "body": body,
                "due_at": due if isinstance(due, str) else due.isoformat(),
                "owner": owner,
                "task_type": TASK_TYPES[kind],
                "contact_ids": [needs_record()],
            },
        )
    if kind == "add_note":
        return CrmRequest(
            action.action_id,
            "note",
            "notes",
            record,
            {
                "body": payload.get("body") or " ".join(action.reasons),
                "at": action.proposed_at.isoformat(),
                "owner": action.owner,
                "contact_ids": [needs_record()],
            },
        )
    if kind == "set_follow_up_date":
        return CrmRequest(
            action.action_id,
            "contact_update",
            "contacts",
            needs_record(),
            {"properties": {"follow_up_date": payload["follow_up_date"]}},
        )
    if kind == "apply_enrichment":
        field = ENRICHMENT_FIELDS.get(payload["field"])
        if field is None:
            raise Unsendable(f"no CRM contact property takes the vendor field {payload['field']!r}")
        return CrmRequest(
            action.action_id, "contact_update", "contacts", needs_record(), {"properties": {field: payload["value"]}}
        )
    if kind == "assign_owner":
        owner = payload["new_owner"]
        queue_field = {"routing_queue": "nurture"} if owner == nurture_owner else {"owner": owner}
        if action.target_kind == "lead":
            contact = payload.get("create_contact") or {}
            first, last = _split_name(contact.get("name"))
            if not contact.get("email"):
                raise Unsendable("a new lead needs an email to become a CRM contact")
            return CrmRequest(
                action.action_id,
                "contact_create",
                "contacts",
                None,
                {
                    "key": "email",
                    "email": contact["email"],
                    "first_name": first,
                    "last_name": last,
                    "company": contact.get("company"),
                    **queue_field,
                },
            )
        return CrmRequest(action.action_id, "contact_update", "contacts", needs_record(), {"properties": queue_field})
    if kind == "add_referred_contact":
        return CrmRequest(
            action.action_id,
            "contact_create",
            "contacts",
            None,
            {
                "key": "email" if payload.get("email") else "actionhouse_id",
                "email": payload.get("email"),
                "first_name": payload.get("first_name"),
                "last_name": payload.get("last_name"),
                "company": payload.get("company"),
                "job_title": payload.get("job_title"),
                "owner": payload.get("owner") or action.owner,
                "referred_by": record,
            },
        )
    if kind == "crm_unsubscribe":
        emails = list(action.target_emails or [])
        if not emails:
            raise Unsendable("the contact has no email address to unsubscribe")
        return CrmRequest(action.action_id, "unsubscribe", "contacts", record, {"emails": emails})
    if kind == "merge_contacts":
        merged = payload.get("merged_record_id")
        primary = payload.get("primary_record_id")
        if not merged or not primary or merged == primary:
            raise Unsendable("a merge needs two different CRM records")
        return CrmRequest(
            action.action_id,
            "merge",
            "contacts",
            str(primary),
            {"primary_record_id": str(primary), "merged_record_id": str(merged)},
        )
    if kind == "enroll_sequence":
        return CrmRequest(
            action.action_id,
            "sequence",
            "contacts",
            needs_record(),
            {"sequence_id": str(payload["sequence_id"]), "owner": payload.get("sender") or action.owner},
        )
    if kind in ("update_deal", "escalate_renewal", "flag_deal"):
        deals = [r["record_id"] for r in action.target_crm_ids if r["object_type"] == "deals"]
        if not deals:
            raise Unsendable("a deal change needs the deal's CRM record")
        return CrmRequest(action.action_id, "deal_update", "deals", deals[0], {"properties": payload["properties"]})
    raise Unsendable(f"the sync engine does not know how to carry out {kind} actions")


def due_timestamp(value: str | datetime) -> datetime:
    """A task's due time from its ISO text."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
