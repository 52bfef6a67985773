"""W11 CRM hygiene: follow-up tasks after held meetings, flags on open deals that miss something, and stage
changes proposed only on explicit evidence.

Signal: `marts.fct_meeting_follow_ups` (meetings held in the look-back, with the owner's first touch after each),
`marts.fct_pipeline_deals` (open deals: next step, close date, amount, primary contact), `marts.fct_stage_evidence`
(an early-stage deal whose held meeting had an economic buyer present).
Decision: a held meeting nobody followed up -> `create_task` for the owner (auto); an open deal missing any of next
step, close date, amount, primary contact -> `flag_deal` naming what is missing (auto); buyer-meeting evidence ->
`update_deal` to the policy's stage, with the meeting and the buyer attached (approve).
Guardrail: one action per meeting, per deal and set of missing fields, per deal and evidence meeting — ever (the
decision slot); tasks and flags capped per owner per day (`hygiene.max_items_per_owner_per_day`, taking turns:
oldest meetings and largest deals first; the rest wait for the next day); suppression blocks tasks about
suppressed contacts.
Done metric: % of open deals with a next step and a next meeting; forecast variance.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from itertools import zip_longest

import polars as pl

from actions.catalog import Workflow
from actions.inputs import PlanningInputs
from actions.model import CrmRef, EvidenceRow, Proposal, ProposalStub, StubTarget, Target
from actions.policy import Policy
from actions.workflows.common import FrameRows, column_rows, contact_target, iso, meeting_outcome

FOLLOW_UPS_TABLE = "marts.fct_meeting_follow_ups"
DEALS_TABLE = "marts.fct_pipeline_deals"
EVIDENCE_TABLE = "marts.fct_stage_evidence"
# The hygiene items the per-owner daily cap counts (a stage change is a person's decision, not an item).
CAPPED_TYPES = frozenset({"create_task", "flag_deal"})
MISSING = {
    "has_next_step": "next step",
    "missing_close_date": "close date",
    "missing_amount": "amount",
    "missing_primary_contact": "primary contact",
}


def _deal_target(deal_id: int, label: str | None, account: str | None) -> Target:
    return Target(
        kind="deal",
        id=f"deal-{deal_id}",
        label=label or f"deal {deal_id}",
        crm_ids=[CrmRef(object_type="deals", record_id=str(deal_id))],
        account_id=account,
    )


def hygiene_proposals(inputs: PlanningInputs, policy: Policy) -> list[Proposal | ProposalStub]:
    """Follow-up tasks, deal flags and evidence-backed stage changes, most pressing first (the daily cap keeps the
    first ones of each owner). Tasks and flags come as stubs (slot, owner, cap order from the frames): the planner
    builds the proposals only of those whose slot is free and within today's cap."""
    settings = policy.hygiene
    if settings is None:
        return []
    tasks, flags = _follow_up_tasks(inputs, policy), _deal_flags(inputs)
    # Tasks and flags take turns, so an owner's daily cap never goes to one kind only while the other waits.
    interleaved = [p for pair in zip_longest(tasks, flags) for p in pair if p is not None]
    return [*_stage_changes(inputs, policy), *interleaved]


def _follow_up_tasks(inputs: PlanningInputs, policy: Policy) -> list[ProposalStub]:
    settings = policy.hygiene
    assert settings is not None
    owed = inputs.meeting_follow_ups.filter(
        pl.col("first_touch_at").is_null() & pl.col("golden_contact_id").is_not_null() & pl.col("owner").is_not_null()
    ).sort("meeting_end_at", "meeting_id")
    of_owed = inputs.contacts.filter(pl.col("golden_contact_id").is_in(owed["golden_contact_id"].implode()))
    # A stub reads the contact's account only; the whole row (the proposal's target) is read when the stub is
    # built, which the owners' daily caps keep to a few an hour (at 1M ~50,000 tasks owed, nearly all capped or in
    # the queue). Each contact's last row, as `contact_index` keeps it.
    at = {key: i for i, key in enumerate(of_owed.get_column("golden_contact_id").to_list())}
    accounts = of_owed.get_column("golden_account_id").to_list()
    # Likewise the follow-up's own row: a stub reads its contact, meeting and owner from the columns.
    rows = FrameRows(owed)
    out = []
    stub_fields = column_rows(owed, ("golden_contact_id", "meeting_id", "owner"))
    for position, (key, meeting_id, owner) in enumerate(stub_fields):
        if key not in at:
            continue
        out.append(
            ProposalStub(
                Workflow.HYGIENE,
                "create_task",
                StubTarget("contact", key, accounts[at[key]]),
                f"meeting={meeting_id}",
                owner,
                partial(_follow_up_task, rows, position, of_owed, at[key], settings.follow_up_due_hours),
            )
        )
    return out


def _follow_up_task(rows: FrameRows, position: int, contacts: pl.DataFrame, at: int, due_hours: float) -> Proposal:
    row = rows[position]
    contact = contacts.row(at, named=True)
    due = row["meeting_end_at"] + timedelta(hours=due_hours)
    return Proposal(
        workflow=Workflow.HYGIENE,
        action_type="create_task",
        target=contact_target(contact),
        payload={
            "subject": f"Follow up on {row['meeting_name'] or 'the meeting'}",
            "due_at": iso(due),
            "assignee": row["owner"],
            "meeting": str(row["meeting_id"]),
        },
        reasons=[
            f"Meeting {row['meeting_name'] or row['meeting_id']} was held on {row['meeting_end_at']:%Y-%m-%d} "
            f"and {row['owner']} has logged no call, email or completed task with the contact since.",
            f"A follow-up task due {due:%Y-%m-%d %H:%M} UTC ({due_hours:g} h after it).",
        ],
        evidence=[
            meeting_outcome(row["meeting_id"], "COMPLETED", row["meeting_end_at"]),
            EvidenceRow(source_table=FOLLOW_UPS_TABLE, key=str(row["meeting_id"]), field="first_touch_at", value=None),
        ],
        evidence_window=f"meeting={row['meeting_id']}",
        owner=row["owner"],
    )


def _deal_flags(inputs: PlanningInputs) -> list[ProposalStub]:
    deals = inputs.open_deals.with_columns(has_next_step=~pl.col("has_next_step").fill_null(False)).filter(
        pl.any_horizontal([pl.col(c).fill_null(False) for c in MISSING])
    )
    deals = deals.sort(["amount", "deal_id"], descending=[True, False], nulls_last=True)
    # A stub reads the deal's id, account, owner and gaps from the columns; the deal's whole row only when built.
    rows = FrameRows(deals)
    stub_fields = column_rows(deals, ("deal_id", "golden_account_id", "owner", *MISSING))
    out = []
    for position, (deal_id, account, owner, *gaps) in enumerate(stub_fields):
        missing = [words for words, gap in zip(MISSING.values(), gaps, strict=True) if gap]
        out.append(
            ProposalStub(
                Workflow.HYGIENE,
                "flag_deal",
                StubTarget("deal", f"deal-{deal_id}", account),
                f"deal={deal_id}|missing={','.join(missing)}",
                owner,
                partial(_deal_flag_at, rows, position, missing),
            )
        )
    return out


def _deal_flag_at(rows: FrameRows, position: int, missing: list[str]) -> Proposal:
    return _deal_flag(rows[position], missing)


def _deal_flag(row: dict, missing: list[str]) -> Proposal:
    flags = "; ".join(f"missing {m}" for m in missing)
    return Proposal(
        workflow=Workflow.HYGIENE,
        action_type="flag_deal",
        target=_deal_target(row["deal_id"], row["deal_name"], row["golden_account_id"]),
        payload={"properties": {"actionhouse_hygiene_flags": flags}, "missing": missing},
        reasons=[f"Open deal {row['deal_name'] or row['deal_id']} ({row['stage']}) is {flags.replace(';', ',')}."],
        evidence=[
            EvidenceRow(
                source_table=DEALS_TABLE,
                key=str(row["deal_id"]),
                field=column,
                value=not row[column] if column == "has_next_step" else row[column],
            )
            for column in MISSING
        ],
        evidence_window=f"deal={row['deal_id']}|missing={','.join(missing)}",
        owner=row["owner"],
    )


def _stage_changes(inputs: PlanningInputs, policy: Policy) -> list[Proposal]:
    settings = policy.hygiene
    assert settings is not None
    out = []
    for row in inputs.stage_evidence.sort("deal_id").iter_rows(named=True):
        who = row["buyer_job_title"] or row["buyer_seniority"]
        out.append(
            Proposal(
                workflow=Workflow.HYGIENE,
                action_type="update_deal",
                target=_deal_target(row["deal_id"], row["deal_name"], row["golden_account_id"]),
                payload={
                    "properties": {"dealstage": settings.buyer_meeting_stage},
                    "from_stage": row["stage"],
                    "evidence_meeting": str(row["meeting_id"]),
                },
                reasons=[
                    f"Deal {row['deal_name'] or row['deal_id']} is at {row['stage']}, but on "
                    f"{row['meeting_end_at']:%Y-%m-%d} its meeting {row['meeting_name'] or row['meeting_id']} was "
                    f"held with an economic buyer ({who}).",
                    f"Move the stage to {settings.buyer_meeting_stage} — only with this evidence, and only once a "
                    "person approves.",
                ],
                evidence=[
                    meeting_outcome(row["meeting_id"], "COMPLETED", row["meeting_end_at"]),
                    EvidenceRow(
                        source_table="marts.dim_contacts",
                        key=row["buyer_golden_contact_id"],
                        field="seniority",
                        value=row["buyer_seniority"],
                    ),
                    EvidenceRow(source_table=DEALS_TABLE, key=str(row["deal_id"]), field="stage", value=row["stage"]),
                ],
                evidence_window=f"deal={row['deal_id']}|meeting={row['meeting_id']}",
                owner=row["owner"],
            )
        )
    return out


def cap_per_owner(
    proposals: list, cap: int, today: Counter, free: Callable[[Proposal], bool] | None = None
) -> tuple[list, int]:
    """Keep each owner's first hygiene items up to the daily cap (counting what they already got today); returns
    the kept proposals (uncapped types all kept) and how many wait for another day. Items `free` says are free
    (held out) are cut where the others are but take no room."""
    given = Counter(today)
    kept, deferred = [], 0
    for proposal in proposals:
        if proposal.action_type not in CAPPED_TYPES:
            kept.append(proposal)
            continue
        owner = proposal.owner or ""
        if given[owner] >= cap:
            deferred += 1
            continue
        if free is None or not free(proposal):
            given[owner] += 1
        kept.append(proposal)
    return kept, deferred
