"""W3 merges and W2 enrichment reviews: the data-quality decisions entity resolution and enrichment leave to
people enter the same queue, with their field-by-field evidence, a few a day.

Signal: `marts.merge_proposals` (pairs in the review band, or auto-merges the cluster guard refused) and
`marts.enrichment_review` (vendor values held back: low confidence, an email two contacts share, or a conflict
with a field a person verified). Decision: merge the two records / write the vendor value — a person approves.
Guardrail: at most `caps.merge_proposals_per_day` / `caps.enrichment_reviews_per_day` new items a day, highest
expected value first; a vendor value against a human-verified field is `never` (kept for audit). Done metric:
incorrect merge rate; enrichment coverage.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import polars as pl

from actions.catalog import Workflow
from actions.inputs import PlanningInputs
from actions.model import CrmRef, EvidenceRow, Proposal
from actions.workflows.common import contact_index, contact_target

MERGES_TABLE = "marts.merge_proposals"
ENRICHMENT_TABLE = "marts.enrichment_review"
_MERGE_REASONS = {
    "review_band": "the match probability is in the review band (likely, not certain)",
    "needs_corroboration": "names and workplace agree, but no email, phone or LinkedIn profile confirms it is one "
    "person (colleagues can share a name)",
    "blocked_by_cluster_guard": "the matcher would merge them, but that would join records with conflicting "
    "LinkedIn profiles or employer domains",
}
_ENRICHMENT_REASONS = {
    "review_low_confidence": "the vendor's confidence is below the threshold for writing it automatically",
    "review_ambiguous_email": "the email the vendor matched on belongs to more than one contact",
    "blocked_human_verified": "a person verified this field, and the vendor value contradicts it",
}


@dataclass(frozen=True)
class ReviewCandidates:
    """A review workflow's candidates in rank order: their evidence windows (every one, cheap) and a way to build
    full proposals lazily — the daily cap means only the first few of many thousand become actions each day."""

    windows: list[str]
    build: Callable[[set[str]], Iterator[Proposal]]


def merge_candidates(inputs: PlanningInputs) -> ReviewCandidates:
    """Merge proposals, highest rank first."""
    ranked = inputs.merge_proposals.sort("rank_value", "proposal_id", descending=[True, False])
    return ReviewCandidates(ranked["proposal_id"].to_list(), lambda skip: _merge_proposals(inputs, ranked, skip))


def enrichment_candidates(inputs: PlanningInputs) -> ReviewCandidates:
    """Held-back vendor values, most confident first."""
    ranked = inputs.enrichment_reviews.sort(
        "confidence", "enrichment_field_id", descending=[True, False], nulls_last=True
    )
    return ReviewCandidates(
        ranked["enrichment_field_id"].to_list(), lambda skip: _enrichment_proposals(inputs, ranked, skip)
    )


def merge_proposals(inputs: PlanningInputs) -> list[Proposal]:
    """Every merge proposal as a proposal, highest rank first."""
    return list(merge_candidates(inputs).build(set()))


def enrichment_proposals(inputs: PlanningInputs) -> list[Proposal]:
    """Every held-back vendor value as a proposal, most confident first."""
    return list(enrichment_candidates(inputs).build(set()))


def _rows_with_contacts(
    inputs: PlanningInputs, ranked: pl.DataFrame, id_columns: tuple[str, ...], chunk: int = 500
) -> Iterator[tuple[dict, dict]]:
    """Ranked rows with the golden contacts they mention, read a chunk at a time (callers stop early)."""
    for start in range(0, ranked.height, chunk):
        part = ranked.slice(start, chunk)
        ids = pl.concat([part[c] for c in id_columns]).unique()
        contacts = contact_index(inputs.contacts.filter(pl.col("golden_contact_id").is_in(ids.implode())))
        for row in part.iter_rows(named=True):
            yield row, contacts


def _merge_proposals(inputs: PlanningInputs, ranked: pl.DataFrame, skip: set[str]) -> Iterator[Proposal]:
    ranked = ranked.filter(~pl.col("proposal_id").is_in(list(skip)))
    for row, contacts in _rows_with_contacts(inputs, ranked, ("left_golden_contact_id", "right_golden_contact_id")):
        left, right = contacts.get(row["left_golden_contact_id"]), contacts.get(row["right_golden_contact_id"])
        if left is None or right is None:
            continue
        target = contact_target(left)
        target = target.model_copy(
            update={
                "label": f"{target.label} + {contact_target(right).label}",
                "crm_ids": [
                    CrmRef(object_type="contacts", record_id=str(r))
                    for r in (row["left_record_id"], row["right_record_id"])
                ],
                "emails": sorted(set(target.emails) | set(contact_target(right).emails)),
            }
        )
        evidence = [
            EvidenceRow(
                source_table=MERGES_TABLE,
                key=row["proposal_id"],
                field="match_probability",
                value=row["match_probability"],
            )
        ]
        for field_name, detail in sorted(json.loads(row["evidence"] or "{}").items()):
            evidence.append(
                EvidenceRow(
                    source_table=MERGES_TABLE,
                    key=row["proposal_id"],
                    field=f"evidence.{field_name}",
                    value=f"{detail.get('left')!s} | {detail.get('right')!s} "
                    f"(level {detail.get('level')}, weight {detail.get('weight')})",
                )
            )
        yield (
            Proposal(
                workflow=Workflow.MERGES,
                action_type="merge_contacts",
                target=target,
                payload={
                    "primary_record_id": str(row["left_record_id"]),
                    "merged_record_id": str(row["right_record_id"]),
                    "proposal_id": row["proposal_id"],
                },
                reasons=[
                    f"Records {row['left_record_id']} and {row['right_record_id']} look like the same person "
                    f"(match probability {row['match_probability']:.3f}).",
                    f"Not merged automatically: {_MERGE_REASONS.get(row['reason'], row['reason'])}.",
                ],
                evidence=evidence,
                evidence_window=row["proposal_id"],
                owner=left["contact_owner"],
            )
        )


def _enrichment_proposals(inputs: PlanningInputs, ranked: pl.DataFrame, skip: set[str]) -> Iterator[Proposal]:
    ranked = ranked.filter(~pl.col("enrichment_field_id").is_in(list(skip)))
    for row, contacts in _rows_with_contacts(inputs, ranked, ("golden_contact_id",)):
        contact = contacts.get(row["golden_contact_id"])
        if contact is None:
            continue
        raise_to = []
        if row["reason"] == "blocked_human_verified":
            raise_to.append(("enrichment_against_human_verified", f"{row['field_name']} was verified by a person"))
        confidence = f"{row['confidence']:.2f}" if row["confidence"] is not None else "unknown"
        yield (
            Proposal(
                workflow=Workflow.ENRICHMENT,
                action_type="apply_enrichment",
                target=contact_target(contact),
                payload={"field": row["field_name"], "value": row["proposed_value"], "vendor": row["vendor"]},
                reasons=[
                    f"{row['vendor']} reports {row['field_name']} = {row['proposed_value']!r} "
                    f"(confidence {confidence}).",
                    f"Held back: {_ENRICHMENT_REASONS.get(row['reason'], row['reason'])}.",
                ],
                evidence=[
                    EvidenceRow(
                        source_table=ENRICHMENT_TABLE,
                        key=row["enrichment_field_id"],
                        field=f,
                        value=row[k],
                        observed_at=row["observed_at"],
                    )
                    for f, k in (
                        ("field_name", "field_name"),
                        ("proposed_value", "proposed_value"),
                        ("confidence", "confidence"),
                        ("reason", "reason"),
                    )
                ],
                evidence_window=row["enrichment_field_id"],
                owner=contact["contact_owner"],
                raise_to=raise_to,
            )
        )
