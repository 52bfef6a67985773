"""W5 sequence selection: a prospect with a buying signal gets the catalogue's sequence for that signal — or, below
the policy's confidence floor, nothing (do not send), said in the metrics.

Signal: `marts.fct_sequence_candidates` (prospects at non-customer accounts without an open deal, with their last
30 days' tool installs, hiring signals, demo requests, pricing-page visits and product trial events) and the
contact's tier.
Decision: the catalogue entry (`sequences.catalogue`) whose signal is strongest for the contact: confidence =
the entry's base confidence x signal strength (count / the entry's `full_at`, at most 1) + the tier's adjustment;
at or above `sequences.confidence_floor` -> `enroll_sequence` (approve) naming the sequence, its channel mix, why
(the signals with their numbers and rows) and the confidence; below it -> nothing (blocked as
`sequences.confidence_floor`: the planner's metrics count these do-not-sends).
Guardrail: never for suppressed contacts (customers are suppressed for prospecting), capped accounts, customers or
restricted industries and countries; at most `sequences.max_new_per_day` new proposals a day, most confident first;
one proposal per contact and sequence. Done metric: reply / positive reply / spam complaint rate by sequence.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import polars as pl

from actions.catalog import Workflow
from actions.guardrails import Blocked
from actions.inputs import PlanningInputs
from actions.model import EvidenceRow, Proposal, ProposalStub, StubTarget
from actions.policy import Policy
from actions.workflows.common import ContactRows, FrameRows, column_rows, contact_index, contact_target

CANDIDATES_TABLE = "marts.fct_sequence_candidates"
SIGNAL_COLUMNS = {
    "tool_install": "tool_installs_30d",
    "hiring": "hiring_signals_30d",
    "demo_request": "demo_requests_30d",
    "pricing_revisits": "pricing_visits_30d",
    "trial_activity": "product_events_30d",
}
SIGNAL_WORDS = {
    "tool_install": "tool installs at the account",
    "hiring": "hiring signals at the account",
    "demo_request": "demo requests",
    "pricing_revisits": "pricing-page visits",
    "trial_activity": "product trial events",
}


# What choosing a candidate's sequence reads of its contact row (`sequence_proposals`).
CHOICE_FIELDS = ("golden_contact_id", "is_junk", "is_customer_account", "tier", "golden_account_id", "contact_owner")


def confidence(entry, count: int, tier: int | None, policy: Policy) -> float:
    """How sure the match is: base confidence x signal strength, plus the tier's adjustment, within 0..1."""
    strength = min(1.0, count / entry.full_at)
    adjust = policy.sequences.tier_adjustment.get(tier or 3, 0.0) if policy.sequences else 0.0
    return round(max(0.0, min(1.0, entry.base_confidence * strength + adjust)), 3)


def sequence_proposals(inputs: PlanningInputs, policy: Policy) -> list[ProposalStub | Blocked]:
    """The best catalogue sequence per prospect with a signal, most confident first; below the floor: Blocked.

    Each row comes as a stub (slot, owner, enrolment and confidence from the row; the proposal built only when the
    planner needs it), and below the floor as a `Blocked` holding the stub."""
    settings = policy.sequences
    if settings is None or not settings.catalogue or inputs.sequence_candidates.is_empty():
        return []
    candidates = inputs.sequence_candidates
    of_candidates = inputs.contacts.filter(pl.col("golden_contact_id").is_in(candidates["golden_contact_id"].implode()))
    # Choosing reads a few fields of each candidate; the whole row (the proposal's target) is read only when a
    # stub is built, which the daily cap keeps to a few a day (at 1M ~100,000 candidates an hour, a few dozen built:
    # indexing every candidate's whole row for them was ~0.35 s of CPU an hour).
    contacts = contact_index(of_candidates.select(CHOICE_FIELDS))
    whole = ContactRows(of_candidates)
    floor = settings.confidence_floor
    scored: list[tuple[float, str, ProposalStub | Blocked]] = []
    catalogue = list(enumerate(settings.catalogue))
    # The signal columns the catalogue reads, and each entry's among them; a candidate is read from those columns
    # and its whole row (the proposal's evidence) only when its stub is built (`FrameRows`: at 1M contacts ~104,000
    # candidates an hour, a few dozen built; a dict per candidate was ~0.2 s of CPU).
    columns = list(dict.fromkeys(SIGNAL_COLUMNS[entry.signal] for _, entry in catalogue))
    entry_column = [columns.index(SIGNAL_COLUMNS[entry.signal]) for _, entry in catalogue]
    rows = FrameRows(candidates)
    # A confidence depends only on the catalogue entry, the signal count and the tier: worked out once for each
    # (~120,000 an hour at 1M contacts take a few hundred distinct values); the best entry depends only on the
    # candidate's signal counts and tier: chosen once for each (a few thousand distinct an hour).
    scores: dict[tuple[int, int, int | None], float] = {}
    choices: dict[tuple[tuple[Any, ...], int | None], tuple[float, Any, int] | None] = {}

    def choose(counts: tuple[Any, ...], tier: int | None) -> tuple[float, Any, int] | None:
        best = None
        for number, entry in catalogue:
            count = counts[entry_column[number]] or 0
            if count <= 0:
                continue
            score = scores.get((number, count, tier))
            if score is None:
                score = scores[(number, count, tier)] = confidence(entry, count, tier, policy)
            if best is None or score > best[0]:
                best = (score, entry, count)
        return best

    signals = column_rows(candidates, columns)
    keys = candidates.get_column("golden_contact_id").to_list()
    for position, (key, counts) in enumerate(zip(keys, signals, strict=True)):
        contact = contacts.get(key)
        if contact is None or contact.get("is_junk") or contact.get("is_customer_account"):
            continue
        tier = contact.get("tier")
        choice = (counts, tier)
        if choice in choices:
            best = choices[choice]
        else:
            best = choices[choice] = choose(counts, tier)
        if best is None:
            continue
        score, entry, count = best
        stub = ProposalStub(
            Workflow.SEQUENCES,
            "enroll_sequence",
            StubTarget("contact", key, contact.get("golden_account_id")),
            f"sequence={entry.id}",
            contact.get("contact_owner"),
            partial(_proposal_at, rows, position, whole, entry, count, score, floor),
            group=(key, str(entry.id)),
        )
        if score < floor:
            reason = f"confidence {score:.2f} is below the floor {floor:.2f}: do not send"
            scored.append((score, key, Blocked(stub, "sequences.confidence_floor", reason)))
        else:
            scored.append((score, key, stub))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [p for _, _, p in scored]


def _proposal_at(rows: FrameRows, position: int, *args: Any) -> Proposal:
    return _proposal(rows[position], *args)


def _proposal(
    row: dict[str, Any],
    contacts: ContactRows,
    entry,
    count: int,
    score: float,
    floor: float,
) -> Proposal:
    key = row["golden_contact_id"]
    contact = contacts[key]
    evidence = [
        EvidenceRow(source_table=CANDIDATES_TABLE, key=key, field=column, value=row[column] or 0)
        for column in SIGNAL_COLUMNS.values()
    ]
    if entry.signal == "tool_install" and row.get("tool_install_signal_id"):
        evidence.append(
            EvidenceRow(
                source_table="staging.stg_signals__signals",
                key=row["tool_install_signal_id"],
                field="detail",
                value=row.get("tool_install_detail"),
            )
        )
    evidence.append(EvidenceRow(source_table="ml.lead_scores", key=key, field="tier", value=contact.get("tier")))
    return Proposal(
        workflow=Workflow.SEQUENCES,
        action_type="enroll_sequence",
        target=contact_target(contact),
        payload={
            "sequence_id": entry.id,
            "sequence_name": entry.name,
            "channels": entry.channels,
            "confidence": score,
            "signal": entry.signal,
            "prospecting": True,
        },
        reasons=[
            f"{count} {SIGNAL_WORDS[entry.signal]} in the last 30 days (tier {contact.get('tier') or '-'}).",
            f"Sequence {entry.name} ({', '.join(entry.channels)}), confidence {score:.2f} (floor {floor:.2f}).",
        ],
        evidence=evidence,
        evidence_window=f"sequence={entry.id}",
        owner=contact.get("contact_owner"),
    )
