"""Policy applied to proposals: suppression, restricted industries and countries, contact caps, risk class,
approval routing, expiry, versions and KPI — each rule recorded as a verdict on the action it shaped.

A proposal a guardrail stops is not queued: it is returned in `Blocked` with the rule and the reason, and the
planner reports it in its metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from actions.catalog import ACTION_TYPES, RiskClass, stricter
from actions.model import Action, PolicyVerdict, Proposal, ProposalStub, action_id, payload_hash
from actions.policy import Policy
from actions.suppression import SuppressionSnapshot

# Verdicts that read the same for every proposal they apply to: built once and shared by the actions that carry them
# (frozen: an action's verdict cannot change under another). A 1M-contact full build classes ~114,000 proposals.
NOT_SUPPRESSED = PolicyVerdict(rule="suppression", verdict="pass", detail="not on the suppression list")
NOT_RESTRICTED = PolicyVerdict(rule="restricted", verdict="pass", detail="industry and country are not restricted")
CUSTOMER_SEES_IT = PolicyVerdict(
    rule="customer_facing",
    verdict="approve",
    detail="a customer sees it: a person approves it (not listed in auto_customer_facing)",
)


class Blocked:
    """A proposal a guardrail (or its workflow) stopped, with the rule and why.

    The proposal may be given as a stub (`ProposalStub`: a candidate row the planner's pre-pass did not build, say
    a sequence below the confidence floor): it is built the first time `proposal` is read, the same proposal either
    way. A run's blocked items are mostly counted by rule, so most are never built."""

    __slots__ = ("_proposal", "rule", "reason")

    def __init__(self, proposal: Proposal | ProposalStub, rule: str, reason: str) -> None:
        self._proposal = proposal
        self.rule = rule
        self.reason = reason

    @property
    def proposal(self) -> Proposal:
        """The blocked proposal (built from its stub on first read)."""
        if isinstance(self._proposal, ProposalStub):
            self._proposal = self._proposal.build()
        return self._proposal

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Blocked):
            return NotImplemented
        return (self.rule, self.reason, self.proposal) == (other.rule, other.reason, other.proposal)

    __hash__ = None  # type: ignore[assignment]  # as before: a proposal's payload is a dict

    def __repr__(self) -> str:
        return f"Blocked(proposal={self._proposal!r}, rule={self.rule!r}, reason={self.reason!r})"


@dataclass
class GuardrailContext:
    """What the guardrails check against: the suppression list (including this run's additions) and the
    customer-facing touches each account already has this week. `classify` adds the touches it lets through, so
    one context shared by every workflow of a run keeps the weekly cap across workflows."""

    suppression: SuppressionSnapshot
    touches_this_week: dict[str, int] = field(default_factory=dict)
    # action id -> `payload_hash` of each action `classify` made: the hash its id rests on, which the queue stores
    # with the action (a full build at 1M contacts writes ~114,000: hashed once, not again when written).
    payload_hashes: dict[str, str] = field(default_factory=dict)


def classify(
    proposals: list[Proposal],
    policy: Policy,
    context: GuardrailContext,
    as_of: datetime,
    now: datetime,
    free: Callable[[Proposal], bool] | None = None,
) -> tuple[list[Action], list[Blocked]]:
    """Turn proposals into actions the queue can store, or block them; in order, so caps fill first-come.

    The touches let through are added to `context.touches_this_week`: later calls with the same context (the
    next workflow of the run) see them. Proposals `free` says are free (held out: never sent) go through every
    guardrail but take no touch from the account's weekly cap."""
    actions: list[Action] = []
    blocked: list[Blocked] = []
    touches = context.touches_this_week
    restricted_industries = {i.lower() for i in policy.restricted.industries}
    restricted_countries = set(policy.restricted.countries)
    declared_verdicts: dict[str, PolicyVerdict] = {}  # by action type: its class and what it does
    policy_version = policy.version
    for proposal in proposals:
        kind = ACTION_TYPES[proposal.action_type]
        target = proposal.target
        verdicts: list[PolicyVerdict] = []
        if kind.reaches_contact or kind.customer_facing:
            prospecting = bool(proposal.payload.get("prospecting"))
            why = context.suppression.reason(target.emails, target.domain, prospecting=prospecting)
            if why:
                blocked.append(Blocked(proposal, "suppression", why))
                continue
            verdicts.append(NOT_SUPPRESSED)
            if target.industry and target.industry.lower() in restricted_industries:
                blocked.append(Blocked(proposal, "restricted.industries", f"industry {target.industry} is restricted"))
                continue
            if target.country and target.country in restricted_countries:
                blocked.append(Blocked(proposal, "restricted.countries", f"country {target.country} is restricted"))
                continue
            verdicts.append(NOT_RESTRICTED)
        if kind.customer_facing:
            cap = policy.caps.per_account_weekly_touches
            account = target.account_id
            if account is not None and touches.get(account, 0) >= cap:
                blocked.append(
                    Blocked(
                        proposal,
                        "caps.per_account_weekly_touches",
                        f"account {account} has had {cap} touches this week",
                    )
                )
                continue
            if account is not None:
                touches[account] = touches.get(account, 0) + (0 if free is not None and free(proposal) else 1)
                verdicts.append(
                    PolicyVerdict(
                        rule="caps.per_account_weekly_touches",
                        verdict="pass",
                        detail=f"touch {touches[account]} of {cap} this week for the account",
                    )
                )
        declared = policy.risk_class(proposal.action_type)
        risk = declared
        declared_verdict = declared_verdicts.get(proposal.action_type)
        if declared_verdict is None:
            declared_verdicts[proposal.action_type] = declared_verdict = PolicyVerdict(
                rule=f"risk_classes.{proposal.action_type}",
                verdict=declared.value,
                detail=f"{proposal.action_type} {kind.does}",
            )
        verdicts.append(declared_verdict)
        if kind.customer_facing and declared != policy.risk_classes[proposal.action_type]:
            verdicts.append(CUSTOMER_SEES_IT)
        for condition, detail in proposal.raise_to:
            raised = RiskClass(getattr(policy.escalations, condition))
            if raised != stricter(risk, raised):
                continue
            risk = stricter(risk, raised)
            verdicts.append(
                PolicyVerdict(rule=f"escalations.{condition}", verdict="raised", detail=f"{detail}: {raised.value}")
            )
        group = policy.approver_group(proposal.action_type) if risk != RiskClass.AUTO else None
        slot = proposal.slot_key
        digest = payload_hash(proposal.payload)
        key = action_id(slot, proposal.payload, digest)
        context.payload_hashes[key] = digest
        actions.append(
            Action(
                action_id=key,
                slot_key=slot,
                evidence_window=proposal.evidence_window,
                workflow=proposal.workflow,
                action_type=proposal.action_type,
                target=target,
                payload=proposal.payload,
                risk_class=risk,
                reasons=proposal.reasons,
                evidence=proposal.evidence,
                policy_verdicts=verdicts,
                model_version=proposal.model_version,
                policy_version=policy_version,
                kpi=policy.kpis[proposal.workflow],
                owner=proposal.owner,
                approver_group=group,
                as_of=as_of,
                proposed_at=now,
                expires_at=now + timedelta(hours=policy.expiry_hours_for(proposal.action_type)),
            )
        )
    return actions, blocked
