"""W12 multi-threading: a late-stage deal with fewer than two engaged stakeholders gets two to five more contacts at
the account proposed, one per buying-committee function the deal lacks, spaced over days.

Signal: `marts.fct_multithread_candidates` (late-stage open deals with their engaged stakeholders of the last 30
days and the functions they cover, and the account's other contacts with their function and seniority).
Decision: deals with fewer than `multithreading.min_engaged` engaged stakeholders -> up to
`multithreading.max_contacts` (at least `min_contacts`, else nothing) `enroll_sequence` proposals into
`multithreading.sequence_id`, one per function in `multithreading.functions` the deal does not cover (most senior
contact of that function first), the n-th starting `spacing_days` x n days after the data's as-of day.
Guardrail: approve; the per-account weekly cap of customer-facing touches (the guardrails stop the rest), suppression
(prospecting scope is not applied: the account is already in a deal), restricted lists; one proposal per deal and
contact. Done metric: % of late-stage deals with 2+ engaged stakeholders; meetings per account.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import polars as pl

from actions.catalog import Workflow
from actions.inputs import PlanningInputs
from actions.model import EvidenceRow, Proposal, ProposalStub, StubTarget
from actions.policy import Policy
from actions.workflows.common import contact_index, contact_target

CANDIDATES_TABLE = "marts.fct_multithread_candidates"
SENIORITY_ORDER = {"c_level": 0, "vp": 1, "director": 2, "manager": 3, "individual_contributor": 4}


def multithreading_proposals(inputs: PlanningInputs, policy: Policy) -> list[ProposalStub]:
    """More stakeholders for thin late-stage deals, by missing function, spaced over days (as stubs: the planner
    builds the proposals whose slot is free)."""
    settings = policy.multithreading
    if settings is None or inputs.multithread_candidates.is_empty():
        return []
    thin = inputs.multithread_candidates.filter(pl.col("engaged_stakeholders") < settings.min_engaged)
    # Picking reads only whether a candidate is a contact and unsubscribed; the whole row (the proposal's target) is
    # indexed for the picked ones alone (at 1M contacts ~138,000 candidates, a few of each deal picked).
    flags = inputs.contacts.filter(
        pl.col("golden_contact_id").is_in(thin["candidate_golden_contact_id"].implode())
    ).select("golden_contact_id", "is_crm_unsubscribed")
    unsubscribed = dict(zip(flags["golden_contact_id"].to_list(), flags["is_crm_unsubscribed"].to_list(), strict=True))
    picked: list[tuple[int, dict, set, list[dict]]] = []
    out: list[ProposalStub] = []
    # One pass over the rows, grouped by deal in the sorted order (a frame per deal cost more than the work on it).
    # Picking reads three columns; the whole rows (a list column among them) are read for each deal's first row and
    # the picks only, gathered from the sorted frame: the dicts `iter_rows(named=True)` gives for those rows.
    ordered = thin.sort("deal_id")
    deals: dict[int, list[int]] = {}
    for i, deal_id in enumerate(ordered["deal_id"].to_list()):
        deals.setdefault(deal_id, []).append(i)
    ids = ordered["candidate_golden_contact_id"].to_list()
    functions = ordered["candidate_function"].to_list()
    seniority = ordered["candidate_seniority"].to_list()
    firsts = [positions[0] for positions in deals.values()]
    covered_of = ordered["functions_covered"].gather(firsts).to_list()
    chosen: list[tuple[int, int, set, list[int]]] = []
    for (deal_id, positions), first, functions_covered in zip(deals.items(), firsts, covered_of, strict=True):
        covered = set(functions_covered or [])
        picks: list[int] = []
        for function in settings.functions:
            if function in covered:
                continue
            options = [
                i for i in positions if functions[i] == function and ids[i] in unsubscribed and not unsubscribed[ids[i]]
            ]
            if options:
                options.sort(key=lambda i: (SENIORITY_ORDER.get(seniority[i] or "", 9), ids[i]))
                picks.append(options[0])
            if len(picks) == settings.max_contacts:
                break
        if len(picks) >= settings.min_contacts:
            chosen.append((deal_id, first, covered, picks))
    first_rows = ordered[[first for _, first, _, _ in chosen]].iter_rows(named=True)
    pick_rows = ordered[[i for *_, picks in chosen for i in picks]].iter_rows(named=True)
    for (deal_id, _, covered, picks), first_row in zip(chosen, first_rows, strict=True):
        picked.append((deal_id, first_row, covered, [next(pick_rows) for _ in picks]))
    contacts = contact_index(
        inputs.contacts.filter(
            pl.col("golden_contact_id").is_in(
                pl.Series(
                    [pick["candidate_golden_contact_id"] for *_, picks in picked for pick in picks], dtype=pl.String
                ).implode()
            )
        )
    )
    for deal_id, first, covered, picks in picked:
        for n, pick in enumerate(picks):
            contact = contacts[pick["candidate_golden_contact_id"]]
            out.append(
                ProposalStub(
                    Workflow.MULTITHREADING,
                    "enroll_sequence",
                    StubTarget("contact", contact["golden_contact_id"], contact.get("golden_account_id")),
                    f"deal={deal_id}",
                    first["owner"],
                    partial(_enrolment, inputs, settings, deal_id, first, covered, pick, contact, n, len(picks)),
                )
            )
    return out


def _enrolment(
    inputs: PlanningInputs, settings, deal_id, first: dict, covered: set, pick: dict, contact: dict, n: int, picks: int
) -> Proposal:
    start_on = (inputs.as_of + timedelta(days=settings.spacing_days * n)).date()
    return Proposal(
        workflow=Workflow.MULTITHREADING,
        action_type="enroll_sequence",
        target=contact_target(contact),
        payload={
            "sequence_id": settings.sequence_id,
            "deal": str(deal_id),
            "function": pick["candidate_function"],
            "start_on": start_on.isoformat(),
            "prospecting": False,
        },
        reasons=[
            f"Deal {first['deal_name'] or deal_id} is at {first['stage']} with "
            f"{first['engaged_stakeholders']} engaged stakeholder(s) in the last 30 days; it covers "
            f"{', '.join(sorted(covered)) or 'no function'}.",
            f"Bring in {contact.get('contact_name') or pick['candidate_golden_contact_id']} "
            f"({pick['candidate_job_title'] or pick['candidate_function']}) for "
            f"{pick['candidate_function']}, contact {n + 1} of {picks}, starting {start_on}.",
        ],
        evidence=[
            EvidenceRow(
                source_table=CANDIDATES_TABLE,
                key=str(deal_id),
                field="engaged_stakeholders",
                value=first["engaged_stakeholders"],
            ),
            EvidenceRow(
                source_table=CANDIDATES_TABLE,
                key=str(deal_id),
                field="functions_covered",
                value=", ".join(sorted(covered)),
            ),
            EvidenceRow(
                source_table="marts.dim_contacts",
                key=pick["candidate_golden_contact_id"],
                field="role_category",
                value=pick["candidate_function"],
            ),
        ],
        evidence_window=f"deal={deal_id}",
        owner=first["owner"],
    )
