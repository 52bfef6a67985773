"""W10 follow-up SLA: inbound demo requests, positive replies, referrals and procurement asks must get a first
touch from the owner within the hours the policy gives their channel and tier.

Signal: `marts.fct_follow_up_triggers` (each trigger with the first touch by the owner on any of the contact's
records: call, logged email, meeting or completed task) and the reply classes. Decision: a breach with no touch
yet is escalated once (a task for the owner, their managers notified); still untouched `reroute_after_hours`
later, it is re-routed to another rep of the territory. Guardrail: one escalation and one re-route per trigger;
an owner change on a contact with an open deal needs approval; suppressed contacts are left alone. Done metric:
% SLA met by tier, median time to first touch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from actions.catalog import Workflow
from actions.inputs import PlanningInputs
from actions.model import EvidenceRow, Proposal
from actions.policy import Policy
from actions.workflows.common import contact_evidence, contact_index, contact_target, hours_between, iso
from actions.workflows.routing import OwnerPicker, team_for_country

TRIGGER_TABLE = "marts.fct_follow_up_triggers"
REPLY_CHANNELS = {"positive": "positive_reply", "wrong_person_referral": "referral"}


@dataclass(frozen=True)
class SlaStatus:
    """A trigger's SLA as of the planning moment."""

    trigger_id: str
    channel: str
    tier: int
    due_at: datetime
    state: str  # met | late | breached | open


def sla_timers(inputs: PlanningInputs, policy: Policy) -> pl.DataFrame:
    """Triggers within the look-back with their channel, tier, due time and state (met / late / breached / open).

    `met`: first touch by the due time; `late`: touched after it; `breached`: untouched past due; `open`: not
    due yet.
    """
    since = inputs.as_of - timedelta(days=policy.sla.lookback_days)
    triggers = inputs.triggers.filter((pl.col("triggered_at") >= since) & (pl.col("triggered_at") <= inputs.as_of))
    classes = inputs.replies.select(pl.col("event_id").alias("trigger_id"), "predicted_class")
    tiers = inputs.contacts.select("golden_contact_id", "tier")
    t = triggers.join(classes, on="trigger_id", how="left").join(tiers, on="golden_contact_id", how="left")
    keywords = policy.reply_routing.procurement_keywords
    channel = (
        pl.when(pl.col("trigger_kind") == "demo_request")
        .then(pl.lit("inbound_demo_request"))
        .when(pl.col("predicted_class") == "wrong_person_referral")
        .then(pl.lit("referral"))
        .when(
            (pl.col("predicted_class") == "positive")
            & pl.col("reply_text").str.to_lowercase().str.contains_any([k.lower() for k in keywords] or ["\u0000"])
        )
        .then(pl.lit("procurement_ask"))
        .when(pl.col("predicted_class") == "positive")
        .then(pl.lit("positive_reply"))
    )
    t = t.with_columns(channel=channel, tier=pl.col("tier").fill_null(3)).filter(pl.col("channel").is_not_null())
    hours_table = pl.DataFrame(
        [(ch, tier, float(policy.sla_hours(ch, tier))) for ch in policy.sla.hours for tier in (1, 2, 3)],
        schema={"channel": pl.String, "tier": pl.Int64, "sla_hours": pl.Float64},
        orient="row",
    )
    t = t.join(hours_table, on=["channel", "tier"], how="left")
    t = t.with_columns(due_at=pl.col("triggered_at") + pl.duration(seconds=(pl.col("sla_hours") * 3600).cast(pl.Int64)))
    touched = pl.col("first_touch_at").is_not_null() & (pl.col("first_touch_at") <= inputs.as_of)
    state = (
        pl.when(touched & (pl.col("first_touch_at") <= pl.col("due_at")))
        .then(pl.lit("met"))
        .when(touched)
        .then(pl.lit("late"))
        .when(pl.col("due_at") < inputs.as_of)
        .then(pl.lit("breached"))
        .otherwise(pl.lit("open"))
    )
    return t.with_columns(state=state).sort("triggered_at", "trigger_id")


def sla_proposals(
    inputs: PlanningInputs,
    policy: Policy,
    escalated: dict[str, datetime],
    picker: OwnerPicker | None = None,
) -> list[Proposal]:
    """Escalations for breached, untouched triggers; re-routes for those still untouched `reroute_after_hours`
    after their escalation. `escalated`: trigger id -> data time of its escalation (approved, queued or sent)."""
    picker = picker or OwnerPicker(inputs.owner_load)
    breached = sla_timers(inputs, policy).filter(pl.col("state") == "breached")
    contacts = contact_index(
        inputs.contacts.filter(pl.col("golden_contact_id").is_in(breached["golden_contact_id"].implode()))
    )
    managers = policy.approvers.groups.get("sales_managers", [])
    proposals: list[Proposal] = []
    for timer in breached.iter_rows(named=True):
        contact = contacts.get(timer["golden_contact_id"])
        if contact is None:
            continue
        name = contact["contact_name"] or contact["golden_contact_id"]
        owner = contact["contact_owner"]
        overdue = hours_between(timer["due_at"], inputs.as_of)
        what = timer["channel"].replace("_", " ")
        said = (
            f"{name}'s {what} came in on {timer['triggered_at']:%Y-%m-%d %H:%M} UTC; Tier {timer['tier']} "
            f"{what}s get a first touch within {timer['sla_hours']:g} h (due {timer['due_at']:%Y-%m-%d %H:%M} UTC)"
        )
        untouched = f"no call, email, meeting or completed task by {owner or 'anyone'} since: {overdue:.0f} h overdue"
        evidence = [
            EvidenceRow(
                source_table=TRIGGER_TABLE,
                key=timer["trigger_id"],
                field="triggered_at",
                value=iso(timer["triggered_at"]),
                observed_at=timer["triggered_at"],
            ),
            EvidenceRow(source_table=TRIGGER_TABLE, key=timer["trigger_id"], field="first_touch_at", value=None),
            EvidenceRow(source_table=TRIGGER_TABLE, key=timer["trigger_id"], field="channel", value=timer["channel"]),
            *contact_evidence(contact, "contact_owner", "tier"),
        ]
        common = {
            "target": contact_target(contact),
            "evidence": evidence,
            "model_version": contact["score_model_version"],
        }
        # The escalation is proposed every run while the breach lasts (the queue keeps one per trigger), so it
        # stays live until the first touch arrives; the re-route follows once it has been escalated.
        proposals.append(
            Proposal(
                workflow=Workflow.SLA,
                action_type="sla_escalation",
                payload={
                    "assignee": owner,
                    "notify": managers,
                    "sla_trigger": timer["trigger_id"],
                    "channel": timer["channel"],
                    "due_at": iso(timer["due_at"]),
                },
                reasons=[f"{said}.", f"Breached: {untouched}. Escalate once: a task for the owner, managers notified."],
                evidence_window=f"sla_escalation:{timer['trigger_id']}",
                owner=owner,
                **common,
            )
        )
        escalated_at = escalated.get(timer["trigger_id"])
        if escalated_at is not None and hours_between(escalated_at, inputs.as_of) >= policy.sla.reroute_after_hours:
            territories, team = team_for_country(policy, contact["country_code"])
            new_owner = picker.pick(team, exclude=owner)
            if new_owner is None or new_owner == owner:
                continue
            raise_to = []
            if contact["open_deal_count"]:
                raise_to.append(
                    ("owner_change_with_open_deal", f"{name} has {contact['open_deal_count']} open deal(s)")
                )
            proposals.append(
                Proposal(
                    workflow=Workflow.SLA,
                    action_type="assign_owner",
                    payload={
                        "new_owner": new_owner,
                        "previous_owner": owner,
                        "territory": policy.territory_of_owner().get(new_owner),
                        "sla_trigger": timer["trigger_id"],
                    },
                    reasons=[
                        f"{said}.",
                        f"Escalated on {escalated_at:%Y-%m-%d %H:%M} UTC and still untouched ({untouched}); "
                        f"{policy.sla.reroute_after_hours:g} h after an escalation the policy re-routes: "
                        f"{new_owner} ({picker.describe(new_owner)}).",
                    ],
                    evidence_window=f"sla_reroute:{timer['trigger_id']}",
                    owner=new_owner,
                    raise_to=raise_to,
                    **common,
                )
            )
    return proposals
