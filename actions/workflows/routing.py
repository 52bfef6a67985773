"""W4 lead routing: every scored contact without an owner, or owned by someone outside every territory of its
country, gets one — and so does every new inbound lead.

Signal: golden contacts with tier (`marts.fct_action_contacts` + `ml.lead_scores`), new inbound leads
(`marts.fct_inbound_leads`), open work per owner (`marts.fct_owner_load`). Decision: the territory of the
country (policy), then the team member with the least open work (round robin by load; ties by name); Tier 3
contacts without an owner go to the nurture queue instead of a rep. Guardrail: changing the owner of a contact
with an open deal needs approval; suppressed contacts are not routed. Done metric: % routed within SLA, time to
first touch by tier.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

import polars as pl

from actions.catalog import Workflow
from actions.inputs import PlanningInputs
from actions.model import EvidenceRow, Proposal, ProposalStub, StubTarget, Target
from actions.policy import Policy
from actions.workflows.common import contact_evidence, contact_target

LEADS_TABLE = "marts.fct_inbound_leads"
LOAD_TABLE = "marts.fct_owner_load"


class OwnerPicker:
    """Round robin weighted by open load: the candidate with the fewest open deals plus leads assigned in this
    run, then the fewest owned contacts, then by name — so a burst of leads spreads across the team and the
    rep carrying the most open deals gets fewer."""

    def __init__(self, owner_load: pl.DataFrame) -> None:
        self.open_deals = {row["owner"]: row["open_deals"] for row in owner_load.iter_rows(named=True)}
        self.contacts = {row["owner"]: row["owned_contacts"] for row in owner_load.iter_rows(named=True)}
        self.assigned: dict[str, int] = {}

    def _load(self, owner: str) -> tuple[int, int, str]:
        assigned = self.assigned.get(owner, 0)
        return (self.open_deals.get(owner, 0) + assigned, self.contacts.get(owner, 0) + assigned, owner)

    def pick(self, candidates: list[str], exclude: str | None = None, count: bool = True) -> str | None:
        """The next owner among `candidates` (never `exclude` when another exists); counts the assignment unless
        `count` is false (a held-out target: the owner it would get adds nothing to their load)."""
        pool = [c for c in candidates if c != exclude] or candidates
        if not pool:
            return None
        best = min(pool, key=self._load)
        if count:
            self.assigned[best] = self.assigned.get(best, 0) + 1
        return best

    def describe(self, owner: str) -> str:
        deals, contacts, _ = self._load(owner)
        return f"{deals} open deals and new leads, {contacts} contacts"


def team_for_country(policy: Policy, country: str | None) -> tuple[list[str], list[str]]:
    """(territories covering the country, their owners in file order)."""
    territories = policy.territories_of_country().get(country or "", [])
    owners = [o for t in territories for o in policy.routing.territories[t].owners]
    return territories, owners


# What picking a misrouted contact's new owner reads of its row (`routing_proposals`).
ROUTING_FIELDS = ("golden_contact_id", "contact_owner", "tier", "country_code", "golden_account_id")


def misrouted_contacts(inputs: PlanningInputs, policy: Policy) -> pl.DataFrame:
    """Scored, non-junk contacts whose owner is missing or outside every territory of their country."""
    pairs = pl.DataFrame(
        [
            (c, o)
            for c, ts in policy.territories_of_country().items()
            for t in ts
            for o in policy.routing.territories[t].owners
        ],
        schema={"country_code": pl.String, "contact_owner": pl.String},
        orient="row",
    ).with_columns(in_territory=pl.lit(True))
    scored = inputs.contacts.filter(pl.col("tier").is_not_null() & ~pl.col("is_junk").fill_null(False))
    return (
        scored.join(pairs, on=["country_code", "contact_owner"], how="left")
        .filter(pl.col("in_territory").is_null() & pl.col("country_code").is_not_null())
        .filter(
            pl.col("contact_owner").is_null()
            | (pl.col("contact_owner") != policy.routing.nurture_owner)
            | (pl.col("tier").is_in(policy.routing.rep_tiers))
        )
        .drop("in_territory")
        .sort("tier", "golden_contact_id")
    )


def routing_proposals(
    inputs: PlanningInputs, policy: Policy, picker: OwnerPicker | None = None
) -> list[Proposal | ProposalStub]:
    """Owner assignments for misrouted contacts and new inbound leads.

    A misrouted contact comes as a stub: its new owner is picked here, in order (each pick moves the picker's load),
    and the words that name that load are written here too; the proposal itself (target, payload, evidence) is built
    only when the planner needs it (most misrouted contacts' slots are already in the queue)."""
    picker = picker or OwnerPicker(inputs.owner_load)
    territory_of = policy.territory_of_owner()
    teams: dict[str | None, tuple[list[str], list[str]]] = {}  # per country: the policy does not change in a run
    proposals: list[Proposal | ProposalStub] = []
    misrouted = misrouted_contacts(inputs, policy)
    # The pick reads five fields of each row; the whole row (the proposal's target and evidence) is read when its
    # stub is built, by its position (at 1M ~35,000 misrouted contacts an hour, nearly all already in the queue; a
    # row read alone costs about twice a row of a whole pass, so a full build, which builds them all, pays little).
    for at, contact in enumerate(misrouted.select(ROUTING_FIELDS).iter_rows(named=True)):
        current = contact["contact_owner"]
        tier = contact["tier"]
        country = contact["country_code"]
        if country not in teams:
            teams[country] = team_for_country(policy, country)
        territories, team = teams[country]
        if current is None and tier not in policy.routing.rep_tiers:
            new_owner, how = policy.routing.nurture_owner, f"Tier {tier} leads without an owner go to the nurture queue"
        else:
            held = policy.in_holdout(Workflow.LEAD_ROUTING, contact["golden_contact_id"])
            new_owner = picker.pick(team, count=not held)
            if new_owner is None:
                continue
            how = f"{new_owner} has the least open work in {', '.join(territories)} ({picker.describe(new_owner)})"
        proposals.append(
            ProposalStub(
                Workflow.LEAD_ROUTING,
                "assign_owner",
                StubTarget("contact", contact["golden_contact_id"], contact.get("golden_account_id")),
                f"owner={current or '-'}|country={country}",
                new_owner,
                partial(_contact_assignment_at, misrouted, at, new_owner, how, territories, territory_of),
            )
        )
    since = inputs.as_of - timedelta(days=policy.routing.lookback_days)
    leads = inputs.inbound_leads.filter((pl.col("submitted_at") >= since) & (pl.col("submitted_at") <= inputs.as_of))
    for lead in leads.sort("submitted_at", "submission_id").iter_rows(named=True):
        tier = policy.routing.inbound_lead_tier.get(lead["lead_source"], 3)
        territories, team = team_for_country(policy, lead["country_code"])
        if tier not in policy.routing.rep_tiers:
            new_owner, how = policy.routing.nurture_owner, f"Tier {tier} leads go to the nurture queue"
        else:
            new_owner = picker.pick(team, count=not policy.in_holdout(Workflow.LEAD_ROUTING, lead["submission_id"]))
            if new_owner is None:
                continue
            how = f"{new_owner} has the least open work in {', '.join(territories)} ({picker.describe(new_owner)})"
        label = (
            f"{lead['lead_name'] or lead['email']} ({lead['company_name'] or lead['company_domain'] or 'no company'})"
        )
        proposals.append(
            Proposal(
                workflow=Workflow.LEAD_ROUTING,
                action_type="assign_owner",
                target=Target(
                    kind="lead",
                    id=lead["submission_id"],
                    label=label,
                    emails=[lead["email"]] if lead["email"] else [],
                    domain=lead["company_domain"],
                    country=lead["country_code"],
                    industry=lead["industry"],
                ),
                payload={
                    "new_owner": new_owner,
                    "previous_owner": None,
                    "territory": territory_of.get(new_owner),
                    "create_contact": {
                        "email": lead["email"],
                        "name": lead["lead_name"],
                        "company": lead["company_name"],
                    },
                },
                reasons=[
                    f"New {lead['lead_source'].replace('_', ' ')} lead on {lead['submitted_at']:%Y-%m-%d %H:%M} UTC, "
                    "not yet a contact in the CRM.",
                    f"The policy rates {lead['lead_source'].replace('_', ' ')} leads Tier {tier}: {how}.",
                ],
                evidence=[
                    EvidenceRow(
                        source_table=LEADS_TABLE,
                        key=lead["submission_id"],
                        field=f,
                        value=lead[f],
                        observed_at=lead["submitted_at"],
                    )
                    for f in ("lead_source", "country_code", "email")
                ],
                evidence_window="new_lead",
                owner=new_owner,
            )
        )
    return proposals


def _contact_assignment_at(misrouted: pl.DataFrame, at: int, *args: Any) -> Proposal:
    """`_contact_assignment` of the misrouted contact at this position (its row as `iter_rows(named=True)` gives it)."""
    return _contact_assignment(misrouted.row(at, named=True), *args)


def _contact_assignment(
    contact: dict[str, Any], new_owner: str, how: str, territories: list[str], territory_of: dict[str, str]
) -> Proposal:
    """The proposal of a misrouted contact's new owner (picked, with the words for how, by `routing_proposals`)."""
    current = contact["contact_owner"]
    tier = contact["tier"]
    name = contact["contact_name"] or contact["golden_contact_id"]
    if current is None:
        why = f"{name} has no owner"
    else:
        why = (
            f"{name} is in {contact['country_code']}, but their owner {current} sells in "
            f"{territory_of.get(current, 'no territory of the policy')} "
            f"(territories for {contact['country_code']}: "
            f"{', '.join(territories)})"
        )
    raise_to = []
    if current is not None and contact["open_deal_count"]:
        raise_to.append(("owner_change_with_open_deal", f"{name} has {contact['open_deal_count']} open deal(s)"))
    return Proposal(
        workflow=Workflow.LEAD_ROUTING,
        action_type="assign_owner",
        target=contact_target(contact),
        payload={"new_owner": new_owner, "previous_owner": current, "territory": territory_of.get(new_owner)},
        reasons=[f"{why}.", f"Tier {tier}: {how}."],
        evidence=contact_evidence(contact, "contact_owner", "country_code", "tier", "open_deal_count"),
        evidence_window=f"owner={current or '-'}|country={contact['country_code']}",
        owner=new_owner,
        model_version=contact["score_model_version"],
        raise_to=raise_to,
    )
