"""One definition of an action: what the planner proposes, the queue stores and the sync engine executes.

An action's id is a content key: the same workflow, target, action type, payload and evidence window give the
same id in every hourly run, so a proposal is never queued twice. Its *slot* (the same without the payload) is
what a person decides on: once a slot has a live or decided action, later runs do not propose it again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from actions.catalog import ACTION_TYPES, RiskClass, Workflow

TargetKind = Literal["contact", "account", "deal", "lead"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvidenceRow(_Frozen):
    """A warehouse (or store) value the action relies on: where it is, which row, which field, what, when."""

    source_table: str
    key: str
    field: str
    value: str | int | float | bool | None
    observed_at: datetime | None = None


class PolicyVerdict(_Frozen):
    """One policy rule applied to the action and what it decided."""

    rule: str
    verdict: Literal["pass", "auto", "approve", "never", "raised", "blocked", "capped"]
    detail: str


class CrmRef(_Frozen):
    """A record in the CRM the action writes to."""

    object_type: str
    record_id: str


class Target(_Frozen):
    """What the action is about: a golden contact (`gc-...`), a golden account, a deal or a new inbound lead."""

    kind: TargetKind
    id: str
    label: str | None = None
    # default_factory, not `= []`: pydantic deep-copies a mutable default for every instance (tens of thousands a run)
    crm_ids: list[CrmRef] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    domain: str | None = None
    account_id: str | None = None
    country: str | None = None
    industry: str | None = None


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal values give equal text (and hashes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def payload_hash(payload: dict[str, Any]) -> str:
    """SHA-256 of the canonical payload."""
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def slot_key(workflow: str, target: Target, action_type: str, evidence_window: str) -> str:
    """The decision slot: workflow, target, action type and the evidence window the proposal rests on."""
    return slot_key_of(workflow, target.kind, target.id, action_type, evidence_window)


def slot_key_of(workflow: str, target_kind: str, target_id: str, action_type: str, evidence_window: str) -> str:
    """`slot_key` from the target's kind and id alone (what a candidate row has before its proposal is built)."""
    raw = f"{workflow}|{target_kind}:{target_id}|{action_type}|{evidence_window}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def action_id(slot: str, payload: dict[str, Any], digest: str | None = None) -> str:
    """Content key of an action: its slot and the hash of its payload (`digest`, when the caller has it already)."""
    return hashlib.sha256(f"{slot}|{digest or payload_hash(payload)}".encode()).hexdigest()[:32]


class Proposal(_Frozen):
    """What a workflow proposes, before the policy classes it (no risk class, versions or expiry yet).

    `raise_to` lists conditions found by the workflow that raise the class (e.g. an open deal on an owner change):
    `(policy escalation name, detail)`; the policy says which class each condition means.
    """

    workflow: Workflow
    action_type: str
    target: Target
    payload: dict[str, Any]
    reasons: Annotated[list[str], Field(min_length=1)]
    evidence: Annotated[list[EvidenceRow], Field(min_length=1)]
    evidence_window: str
    owner: str | None = None
    model_version: str | None = None
    raise_to: list[tuple[str, str]] = Field(default_factory=list)

    @property
    def slot_key(self) -> str:
        """See `slot_key()`."""
        return slot_key(self.workflow.value, self.target, self.action_type, self.evidence_window)


class Action(_Frozen):
    """A classified proposal, as stored in the decision queue."""

    action_id: str
    slot_key: str
    evidence_window: str
    workflow: Workflow
    action_type: str
    target: Target
    payload: dict[str, Any]
    risk_class: RiskClass
    reasons: Annotated[list[str], Field(min_length=1)]
    evidence: Annotated[list[EvidenceRow], Field(min_length=1)]
    policy_verdicts: Annotated[list[PolicyVerdict], Field(min_length=1)]
    model_version: str | None
    policy_version: str
    kpi: str
    owner: str | None
    approver_group: str | None
    as_of: datetime
    proposed_at: datetime
    expires_at: datetime
    # Set when the target is in the workflow's holdout group: the reason (`held out: sla holdout group 10%`); the
    # queue records the action as `held_out` and never executes it.
    holdout: str | None = None

    @property
    def customer_facing(self) -> bool:
        """Whether a customer sees the result (see `actions.catalog`)."""
        return ACTION_TYPES[self.action_type].customer_facing

    @property
    def does(self) -> str:
        """What executing it does, in words."""
        return ACTION_TYPES[self.action_type].does


@dataclass(frozen=True, slots=True)
class StubTarget:
    """The part of a target the planner's pre-pass reads (holdout units)."""

    kind: str
    id: str
    account_id: str | None = None


class ProposalStub:
    """A candidate row before its proposal is built: what the planner needs to look its slot up in the queue, cap it
    and hold it out (slot key, action type, target id and account, owner, evidence window), and how to build the
    full `Proposal` (reasons, evidence, payload, target). The planner builds only the stubs whose slot is free and
    within today's caps; `build` checks the proposal has the slot, type and owner the stub said."""

    __slots__ = (
        "workflow", "action_type", "target", "evidence_window", "owner", "slot_key", "group", "_build", "_built"
    )

    def __init__(
        self,
        workflow: Workflow,
        action_type: str,
        target: StubTarget,
        evidence_window: str,
        owner: str | None,
        build: Callable[[], Proposal],
        group: tuple[str, str] | None = None,
    ) -> None:
        self.workflow = workflow
        self.action_type = action_type
        self.target = target
        self.evidence_window = evidence_window
        self.owner = owner
        self.slot_key = slot_key_of(workflow.value, target.kind, target.id, action_type, evidence_window)
        # What the workflow groups the row under, where the planner needs it before the proposal (the sequence
        # workflows: the enrolment, `(golden contact id, sequence id)`).
        self.group = group
        self._build = build
        self._built: Proposal | None = None

    def build(self) -> Proposal:
        """The full proposal, built once (an error if it is not the one the stub stood for: the pre-pass would be
        wrong)."""
        if self._built is not None:
            return self._built
        proposal = self._build()
        seen = (proposal.slot_key, proposal.action_type, proposal.owner, proposal.target.account_id)
        if seen != (self.slot_key, self.action_type, self.owner, self.target.account_id):
            raise ValueError(f"proposal {seen} differs from its stub {self.slot_key, self.action_type, self.owner}")
        self._built = proposal
        return proposal


def built(item: Any) -> Any:
    """A stub's proposal; anything else as it is."""
    return item.build() if isinstance(item, ProposalStub) else item
