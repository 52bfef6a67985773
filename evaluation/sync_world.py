"""A sandbox CRM with owners and contacts, an operational store, and approved actions to sync (shared by the sync
tests and the sync eval)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from actions.catalog import Workflow
from actions.guardrails import GuardrailContext, classify
from actions.model import CrmRef, EvidenceRow, Proposal, Target
from actions.policy import Policy
from actions.queue import DecisionQueue
from actions.suppression import SuppressionSnapshot
from crm_sandbox.store import SandboxStore, StoredObject, now_ms

OWNERS = [("Alice", "Carter"), ("Marta", "Schulz"), ("Derek", "Mills")]
APPROVER = "Ada Admin"


def seed_sandbox(store: SandboxStore, contacts: int) -> list[str]:
    """Owners and `contacts` contact records (emails person<i>@acme<i%50>.com); returns their record ids."""
    store.add_owners(
        [{"email": f"{first.lower()}@actionhouse.io", "firstName": first, "lastName": last} for first, last in OWNERS]
    )
    ids = []
    with store.transaction():
        first = store.next_id("contacts")
        for i in range(contacts):
            ms = now_ms()
            obj = StoredObject(
                "contacts",
                first + i,
                {"email": f"person{i}@acme{i % 50}.com", "firstname": f"P{i}", "lastname": "Test"},
                ms,
                ms,
                False,
            )
            store.put(obj)
            ids.append(str(first + i))
    return ids


def proposal(
    kind: str,
    record_id: str,
    index: int,
    payload: dict,
    workflow: Workflow = Workflow.REPLY_ROUTING,
    email: str | None = None,
    account: str | None = None,
) -> Proposal:
    """A proposal on golden contact `gc-<record_id>` (its CRM record)."""
    return Proposal(
        workflow=workflow,
        action_type=kind,
        target=Target(
            kind="contact",
            id=f"gc-{record_id}",
            label=f"Person {index}",
            crm_ids=[CrmRef(object_type="contacts", record_id=record_id)],
            emails=[email or f"person{index}@acme{index % 50}.com"],
            account_id=account or f"ga-{index % 50}",
        ),
        payload=payload,
        reasons=[f"test action {index}"],
        evidence=[EvidenceRow(source_table="test", key=str(index), field="f", value=index)],
        evidence_window=f"w{index}",
        owner="Alice Carter",
    )


def queue_approved(engine, policy: Policy, proposals: list[Proposal]) -> list[str]:
    """Classify, queue and approve proposals (as an admin); returns the action ids."""
    now = datetime.now(UTC)
    context = GuardrailContext(SuppressionSnapshot({}, {}, {}, {}))
    actions, blocked = classify(proposals, policy, context, now - timedelta(hours=1), now)
    assert not blocked, blocked
    queue = DecisionQueue(engine, policy)
    queue.add(actions, run_id="test")
    for action in actions:
        if queue.get(action.action_id).state.value == "proposed":
            queue.approve(action.action_id, actor=APPROVER)
    return [a.action_id for a in actions]


def mixed_proposals(record_ids: list[str], start: int = 0) -> list[Proposal]:
    """Tasks, follow-up dates, owner changes, unsubscribes and merges over the given records."""
    out = []
    for n, record_id in enumerate(record_ids):
        i = start + n
        kind = i % 5
        if kind == 0:
            out.append(
                proposal(
                    "create_task",
                    record_id,
                    i,
                    {
                        "subject": f"Call {i}",
                        "assignee": "Alice Carter",
                        "due_at": "2026-11-02T10:00:00+00:00",
                        "notes": "x",
                    },
                )
            )
        elif kind == 1:
            out.append(proposal("set_follow_up_date", record_id, i, {"follow_up_date": "2027-01-15"}))
        elif kind == 2:
            out.append(proposal("assign_owner", record_id, i, {"new_owner": "Marta Schulz"}, Workflow.LEAD_ROUTING))
        elif kind == 3:
            out.append(proposal("crm_unsubscribe", record_id, i, {"subscription": "all_email"}, Workflow.SUPPRESSION))
        else:
            out.append(proposal("escalate_reply", record_id, i, {"assignee": "revops", "notes": "legal"}))
    return out
