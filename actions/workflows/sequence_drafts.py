"""W6 sequence-step drafts: every email step of a sequence W5 proposes gets a grounded draft for the owner to review.

Signal: the sequence enrolments W5 proposes this run (`sequence_proposals`: contact, sequence, the signals with
their rows) and the golden contact record (`marts.fct_action_contacts`: first name, company, industry, owner).
Decision: the contact's ICP segment (`sequence_drafts.segments`: the first segment listing the account's industry,
else the catch-all) gives one template per email step (pain hypothesis, one proof point, one ask); each step ->
`send_email` rendered by `actions.drafts.render_draft` from the fields in `SEQUENCE_DRAFT_FIELDS` only, due
`sequence_drafts.step_days[i]` days after the as-of day, with the field -> value map stored in the payload.
Guardrail: a template needing a field the record lacks is not rendered (blocked `drafts.missing_field`, naming the
field); a banned claim or topic in the rendered text blocks it with the rule; a Tier 1 contact's draft is raised by
`escalations.tier1_draft` (approve even if one-to-one emails were automatic); the planner only queues drafts whose
enrolment is in the queue (or queued this run), at most `max_new_per_owner_per_day` a day per owner, whole
sequences at a time; suppression, restricted lists and the weekly account cap apply to every step.
Execution: nothing is sent by the planner: each draft is `approve` for its owner, who edits and approves it.
Done metric: positive reply rate; spam complaints; meetings booked per 1,000 sends (`sequence_draft*` figures of
`make eval-actions`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import polars as pl

from actions.catalog import Workflow
from actions.drafts import Draft, banned_test, render_draft_with
from actions.guardrails import Blocked
from actions.inputs import PlanningInputs
from actions.model import EvidenceRow, Proposal, ProposalStub, StubTarget, built
from actions.policy import SEQUENCE_DRAFT_FIELDS, DraftSegment, Policy
from actions.workflows.common import CONTACTS_TABLE, contact_index, iso


def enrolment_key(proposal: Proposal | ProposalStub) -> tuple[str, str]:
    """The (golden contact, sequence id) an enrolment or a step draft belongs to (a stub says it without building)."""
    if isinstance(proposal, ProposalStub):
        assert proposal.group is not None, "a sequence stub names its enrolment"
        return proposal.group
    return proposal.target.id, str(proposal.payload.get("sequence_id"))


# What drafting reads of a golden contact row: its key, segment and tier, and the fields a template may use.
DRAFT_CONTACT_FIELDS = list(dict.fromkeys(["golden_contact_id", "industry", "tier", *SEQUENCE_DRAFT_FIELDS.values()]))


def draft_record(contact: dict[str, Any]) -> dict[str, Any]:
    """The fields a sequence draft may use, from the golden contact (None where the record holds nothing)."""
    return {name: contact.get(column) for name, column in SEQUENCE_DRAFT_FIELDS.items()}


def sequence_draft_proposals(
    inputs: PlanningInputs, policy: Policy, enrolments: list[Proposal | ProposalStub | Blocked]
) -> list[ProposalStub | Blocked]:
    """One draft per email step of each proposed enrolment (below-floor enrolments get none); drafts the policy
    refuses come back as `Blocked` with the rule (a missing field, a banned claim or topic, no segment) — and so do
    the other steps of that sequence.

    Every step is rendered here (whether the policy refuses a draft is known only from its text, and refused drafts
    are listed whatever their slot), but each comes as a stub: its proposal (reasons, evidence, payload) is built
    only when the planner needs it."""
    settings = policy.sequence_drafts
    proposed = [p for p in enrolments if not isinstance(p, Blocked)]
    if settings is None or not proposed:
        return []
    # Only the fields a draft and its proposal read (not the target's email and CRM id lists: the enrolment has it).
    contacts = contact_index(
        inputs.contacts.filter(pl.col("golden_contact_id").is_in(sorted({p.target.id for p in proposed}))).select(
            DRAFT_CONTACT_FIELDS
        )
    )
    # The banned claims and topics gathered once a run, and each contact's record once for all its steps.
    banned = banned_test(policy.content.banned_claims, policy.content.topic_phrase_map())
    out: list[ProposalStub | Blocked] = []
    for enrolment in proposed:
        contact = contacts.get(enrolment.target.id)
        if contact is None:
            continue
        segment = settings.segment_for(contact.get("industry"))
        record = draft_record(contact)
        group = enrolment_key(enrolment)
        target = StubTarget(enrolment.target.kind, enrolment.target.id, enrolment.target.account_id)
        steps: list[tuple[int, ProposalStub, tuple[str, str] | None]] = []
        for step, day in enumerate(settings.step_days, start=1):
            draft = None if segment is None else _render_step(record, segment, step, policy, banned)
            stub = ProposalStub(
                Workflow.SEQUENCE_DRAFTS,
                "send_email",
                target,
                f"sequence={group[1]}|step={step}",
                enrolment.owner,
                partial(_step_draft, enrolment, contact, segment, step, day, draft, inputs, policy),
                group=group,
            )
            steps.append((step, stub, _refusal(contact, segment, draft)))
        # A sequence goes out whole or not at all: one refused step refuses its siblings, with the same rule.
        first = next(((step, why) for step, _, why in steps if why is not None), None)
        for _, stub, why in steps:
            if why is not None:
                out.append(Blocked(stub, *why))
            elif first is not None:
                out.append(Blocked(stub, first[1][0], f"step {first[0]} is refused: {first[1][1]}"))
            else:
                out.append(stub)
    return out


def _render_step(
    record: dict[str, Any],
    segment: DraftSegment,
    step: int,
    policy: Policy,
    banned: Callable[[str], list[tuple[str, str]]],
) -> Draft:
    """The step's template of the segment, rendered from the contact's `draft_record` (or refused: see
    `render_draft`; `banned`: the policy's `banned_test`)."""
    template_name = segment.templates[step - 1]
    template = policy.drafts.templates[template_name]
    return render_draft_with(template_name, template.subject, template.body, record, banned)


def _refusal(contact: dict[str, Any], segment: DraftSegment | None, draft: Draft | None) -> tuple[str, str] | None:
    """Why the policy refuses a step's draft, as (rule, reason); None when it does not."""
    if segment is None or draft is None:
        return (
            "sequence_drafts.no_segment",
            f"no ICP segment covers industry {contact.get('industry') or '(none)'} and there is no catch-all segment",
        )
    if draft.blocked:
        return draft.blocked_rule or "drafts", draft.blocked_reason or ""
    return None


def _step_draft(
    enrolment: Proposal | ProposalStub,
    contact: dict[str, Any],
    segment: DraftSegment | None,
    step: int,
    day: int,
    draft: Draft | None,
    inputs: PlanningInputs,
    policy: Policy,
) -> Proposal:
    """The proposal of one step's draft (refused or not: see `_refusal`), with the field map and the rows behind
    every value."""
    settings = policy.sequence_drafts
    assert settings is not None
    enrolment = built(enrolment)
    payload = enrolment.payload
    steps = len(settings.step_days)
    key = contact["golden_contact_id"]
    tier = contact.get("tier")
    sequence = f"{payload['sequence_name']} ({payload['sequence_id']})"
    base: dict[str, Any] = {
        "sequence_id": payload["sequence_id"],
        "sequence_name": payload["sequence_name"],
        "step": step,
        "steps": steps,
        "due_at": iso(inputs.as_of + timedelta(days=day)),
        "tier": tier,
        "prospecting": True,
    }
    evidence = [
        *enrolment.evidence,
        EvidenceRow(source_table=CONTACTS_TABLE, key=key, field="industry", value=contact.get("industry")),
    ]
    why_sequence = f"Step {step} of {steps} of sequence {sequence}, due day {day}: {enrolment.reasons[0]}"
    raise_to = [("tier1_draft", "Tier 1 contact: a person reviews every draft")] if tier == 1 else []
    if segment is None or draft is None:
        return _proposal(enrolment, {**base, "segment": None}, [why_sequence], evidence, raise_to, step)
    template_name = draft.template
    used = list(draft.field_map) or list(draft.missing_fields)
    evidence += [
        EvidenceRow(
            source_table=CONTACTS_TABLE,
            key=key,
            field=SEQUENCE_DRAFT_FIELDS[name],
            value=contact.get(SEQUENCE_DRAFT_FIELDS[name]),
        )
        for name in used
        if SEQUENCE_DRAFT_FIELDS[name] != "industry"
    ]
    reasons = [
        why_sequence,
        f"ICP segment {segment.name} (industry {contact.get('industry') or '-'}): template {template_name} — a pain "
        "hypothesis, one proof point, one ask; every value in it comes from the field map. The owner reviews, edits "
        "and approves it; nothing is sent before.",
    ]
    return _proposal(
        enrolment,
        {
            **({"subject": draft.subject, "body": draft.body} if not draft.blocked else {}),
            **base,
            "segment": segment.id,
            "template": template_name,
            "field_map": draft.field_map,
        },
        reasons,
        evidence,
        raise_to,
        step,
    )


def _proposal(
    enrolment: Proposal,
    payload: dict[str, Any],
    reasons: list[str],
    evidence: list[EvidenceRow],
    raise_to: list[tuple[str, str]],
    step: int,
) -> Proposal:
    return Proposal(
        workflow=Workflow.SEQUENCE_DRAFTS,
        action_type="send_email",
        target=enrolment.target,
        payload=payload,
        reasons=reasons,
        evidence=evidence,
        evidence_window=f"sequence={payload['sequence_id']}|step={step}",
        owner=enrolment.owner,
        raise_to=raise_to,
    )


def cap_drafts_per_owner(
    proposals: list[Proposal], cap: int, today: Counter, free: Callable[[Proposal], bool] | None = None
) -> tuple[list[Proposal], int]:
    """Keep each owner's drafts up to the daily cap (counting what they already got today), whole enrolments at a
    time so no sequence is queued with a step missing; returns the kept drafts and how many wait for another day.
    Enrolments `free` says are free (held out) are cut where the others are but take no room."""
    given = Counter(today)
    by_enrolment: dict[tuple[str, str], list[Proposal]] = {}
    for proposal in proposals:
        by_enrolment.setdefault(enrolment_key(proposal), []).append(proposal)
    kept: list[Proposal] = []
    deferred = 0
    for drafts in by_enrolment.values():
        owner = drafts[0].owner or ""
        if given[owner] + len(drafts) > cap:
            deferred += len(drafts)
            continue
        if free is None or not free(drafts[0]):
            given[owner] += len(drafts)
        kept.extend(drafts)
    return kept, deferred
