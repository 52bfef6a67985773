"""Small hand-made planner inputs: a few contacts with owners, replies, follow-up triggers and leads.

Each test changes what it needs (a reply class, a touch, a suppression signal) and plans again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from actions.inputs import (
    ACCOUNT_RISK_SCHEMA,
    CONTACT_SCHEMA,
    ENRICHMENT_SCHEMA,
    LEAD_SCHEMA,
    LOAD_SCHEMA,
    MERGE_SCHEMA,
    REPLY_SCHEMA,
    SIGNAL_SCHEMA,
    TRIGGER_SCHEMA,
    PlanningInputs,
)

AS_OF = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)


def contact(golden_id: str, owner: str | None, country: str, tier: int = 1, **extra) -> dict:
    """A golden contact row of `fct_action_contacts` with its tier."""
    n = golden_id.removeprefix("gc-")
    row = {
        "golden_contact_id": golden_id,
        "contact_name": f"Person {n}",
        "email": f"p{n}@acme{n}.com",
        "emails": [f"p{n}@acme{n}.com"],
        "crm_record_ids": [int(n)],
        "contact_owner": owner,
        "country_code": country,
        "lifecycle_stage": "lead",
        "company_name": f"Acme {n}",
        "golden_account_id": f"ga-{n}",
        "account_domain": f"acme{n}.com",
        "industry": "Software",
        "is_crm_unsubscribed": False,
        "is_customer_account": False,
        "open_deal_count": 0,
        "tier": tier,
        "combined_score": 80.0,
        "score_model_version": "v0001-learned",
        "is_junk": False,
    }
    row.update(extra)
    return row


def reply(event_id: str, golden_id: str, cls: str, hours_ago: float, confidence: float = 0.95) -> dict:
    """A classified reply (`ml.reply_classifications`)."""
    return {
        "event_id": event_id,
        "golden_contact_id": golden_id,
        "replied_at": AS_OF - timedelta(hours=hours_ago),
        "predicted_class": cls,
        "confidence": confidence,
        "needs_human": cls == "needs_human",
        "rule_hit": False,
        "model_version": "reply-test",
    }


def trigger(
    trigger_id: str,
    golden_id: str,
    owner: str | None,
    hours_ago: float,
    text: str = "",
    kind: str = "reply",
    touched_hours_ago: float | None = None,
    touched_by: str | None = None,
) -> dict:
    """A follow-up trigger with (optionally) its first touch."""
    touched = AS_OF - timedelta(hours=touched_hours_ago) if touched_hours_ago is not None else None
    return {
        "trigger_kind": kind,
        "trigger_id": trigger_id,
        "golden_contact_id": golden_id,
        "contact_record_id": int(golden_id.removeprefix("gc-")),
        "contact_owner": owner,
        "triggered_at": AS_OF - timedelta(hours=hours_ago),
        "reply_text": text,
        "first_touch_at": touched,
        "first_touch_id": 1 if touched else None,
        "first_touch_kind": "CALL" if touched else None,
        "first_touch_by": (touched_by or owner) if touched else None,
    }


def signal(email: str, reason: str, hours_ago: float = 5, scope: str = "all", kind: str = "email") -> dict:
    """A row of `fct_suppression_signals`."""
    return {
        "kind": kind,
        "value": email,
        "reason": reason,
        "scope": scope,
        "source_table": "staging.stg_email__events",
        "source_key": f"e-{email}",
        "source_field": "event_type",
        "source_value": reason,
        "observed_at": AS_OF - timedelta(hours=hours_ago),
    }


def risk(account: str, tier: int | None, **extra) -> dict:
    """A verdict row of `fct_account_risk` (defaults: two escalated cases, usage -35%, renewal in 40 days)."""
    row = {
        "golden_account_id": account,
        "company_name": f"Customer {account}",
        "account_domain": f"{account}.example.com",
        "account_owner": "Frank Osei",
        "company_record_ids": [50_000_000 + int(account.removeprefix("ga-"))],
        "as_of": AS_OF,
        "verdict": {1: "at_risk", 2: "at_risk", 3: "watch"}.get(tier, "healthy"),
        "risk_tier": tier,
        "triggering_signals": [
            "2 escalated support cases in the last 14 days",
            "product usage -35.0% over the last 4 weeks vs the 4 before (130 vs 200 active-user days)",
            "renewal in 40 days (2026-12-10)",
        ]
        if tier in (1, 2)
        else [],
        "has_escalations": True,
        "has_usage_drop": True,
        "has_an_escalation": True,
        "has_usage_dip": True,
        "has_renewal_soon": True,
        "has_no_contact": False,
        "escalated_cases": 2,
        "escalated_case_ids": [90_000_011, 90_000_012],
        "recent_active_user_days": 130,
        "prior_active_user_days": 200,
        "usage_change_pct": -35.0,
        "usage_change_z": -3.9,
        "usage_window_start": (AS_OF - timedelta(days=55)).date(),
        "usage_window_end": AS_OF.date(),
        "renewal_date": (AS_OF + timedelta(days=40)).date(),
        "renewal_date_source": "company.renewal_date",
        "days_to_renewal": 40,
        "renewal_deal_id": 75_000_000 + int(account.removeprefix("ga-")),
        "renewal_deal_stage": "presentation scheduled",
        "last_contact_at": AS_OF - timedelta(days=12),
        "last_contact_id": 60_000_001,
        "last_contact_kind": "CALL",
        "days_since_contact": 12,
    }
    row.update(extra)
    return row


def customer_world(*risk_rows: dict, **contact_extra) -> PlanningInputs:
    """A customer account `ga-8` with one contact (`gc-8`, first name Pat) and the given verdict rows."""
    people = [
        contact(
            "gc-8",
            "Frank Osei",
            "US",
            **{
                "first_name": "Pat",
                "golden_account_id": "ga-8",
                "is_customer_account": True,
                "lifecycle_stage": "customer",
                **contact_extra,
            },
        )
    ]
    world = inputs(people)
    world.account_risk = frame(list(risk_rows or [risk("ga-8", 1)]), ACCOUNT_RISK_SCHEMA)
    return world


def frame(rows: list[dict], schema: dict) -> pl.DataFrame:
    """Rows as a frame with the planner's schema."""
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def inputs(
    contacts=(), replies=(), triggers=(), signals=(), leads=(), load=(), merges=(), enrichment=(), as_of=AS_OF
) -> PlanningInputs:
    """Planner inputs from row lists (every table present, possibly empty)."""
    return PlanningInputs(
        as_of=as_of,
        contacts=frame(list(contacts), CONTACT_SCHEMA),
        replies=frame(list(replies), REPLY_SCHEMA),
        triggers=frame(list(triggers), TRIGGER_SCHEMA),
        suppression_signals=frame(list(signals), SIGNAL_SCHEMA),
        inbound_leads=frame(list(leads), LEAD_SCHEMA),
        owner_load=frame(list(load), LOAD_SCHEMA),
        merge_proposals=frame(list(merges), MERGE_SCHEMA),
        enrichment_reviews=frame(list(enrichment), ENRICHMENT_SCHEMA),
    )


def busy_world() -> PlanningInputs:
    """One contact for every workflow, so a test can see each of them act (or be stopped)."""
    people = [
        contact("gc-1", "Alice Carter", "US", tier=1),  # positive reply
        contact("gc-2", "Marta Schulz", "DE", tier=2),  # objection
        contact("gc-3", "Alice Carter", "FR", tier=2),  # owner outside the territory
        contact("gc-4", None, "GB", tier=1),  # no owner
        contact("gc-5", "Derek Mills", "US", tier=1),  # SLA breach
        contact("gc-6", "Erin Walsh", "US", tier=2),  # merge with gc-7
        contact("gc-7", "Erin Walsh", "US", tier=2),
    ]
    replies = [
        reply("e-1", "gc-1", "positive", hours_ago=1),
        reply("e-2", "gc-2", "objection", hours_ago=10),
        reply("e-5", "gc-5", "positive", hours_ago=30),
    ]
    triggers = [
        trigger("e-1", "gc-1", "Alice Carter", 1, "Yes, let us talk"),
        trigger("e-2", "gc-2", "Marta Schulz", 10, "Too expensive"),
        trigger("e-5", "gc-5", "Derek Mills", 30, "Send me times"),
    ]
    merges = [
        {
            "proposal_id": "p-67",
            "left_record_id": 6,
            "right_record_id": 7,
            "left_golden_contact_id": "gc-6",
            "right_golden_contact_id": "gc-7",
            "reason": "review_band",
            "match_probability": 0.9,
            "evidence": '{"email": {"level": "exact", "weight": 5, "left": "a", "right": "a"}}',
            "rank_value": 0.9,
        }
    ]
    enrichment = [
        {
            "enrichment_field_id": "f-6",
            "golden_contact_id": "gc-6",
            "field_name": "job_title",
            "proposed_value": "VP Sales",
            "vendor": "vendor_a",
            "confidence": 0.5,
            "observed_at": AS_OF,
            "reason": "review_low_confidence",
        }
    ]
    load = [
        {"owner": "Olivia Laurent", "open_deals": 3, "owned_contacts": 10},
        {"owner": "Pieter de Wit", "open_deals": 1, "owned_contacts": 10},
        {"owner": "Jack Thompson", "open_deals": 0, "owned_contacts": 5},
        {"owner": "Katie Morgan", "open_deals": 2, "owned_contacts": 5},
    ]
    world = inputs(people, replies, triggers, load=load, merges=merges, enrichment=enrichment)
    # A customer account at risk (tier 1): an outreach draft and a renewal escalation.
    customer = customer_world()
    world.contacts = pl.concat([world.contacts, customer.contacts])
    world.account_risk = customer.account_risk
    return world


def sequence_candidate(golden_id: str, **counts) -> dict:
    """A W5 candidate row (`SEQUENCE_CANDIDATE_SCHEMA`) with no signal but the `counts` given."""
    row = {
        "golden_contact_id": golden_id,
        "account_domain": f"acme{golden_id.removeprefix('gc-')}.com",
        "tool_installs_30d": 0,
        "tool_install_signal_id": None,
        "tool_install_detail": None,
        "hiring_signals_30d": 0,
        "demo_requests_30d": 0,
        "pricing_visits_30d": 0,
        "product_events_30d": 0,
    }
    row.update(counts)
    return row


def busy_world_an_hour_later() -> PlanningInputs:
    """`busy_world` after an hour that changes the evidence of four open actions: gc-1 unsubscribes by email,
    gc-5 gets a first touch from its owner, gc-3's tier drops, gc-2 is merged away."""
    world = busy_world()
    unsubscribe = signal("p1@acme1.com", "unsubscribe", hours_ago=0.5)
    world.suppression_signals = inputs(signals=[unsubscribe]).suppression_signals
    world.triggers = world.triggers.with_columns(
        first_touch_at=pl.when(pl.col("trigger_id") == "e-5").then(pl.lit(AS_OF - timedelta(hours=1))),
        first_touch_by=pl.when(pl.col("trigger_id") == "e-5").then(pl.lit("Derek Mills")),
    )
    world.contacts = world.contacts.with_columns(
        tier=pl.when(pl.col("golden_contact_id") == "gc-3").then(pl.lit(3)).otherwise(pl.col("tier"))
    ).filter(pl.col("golden_contact_id") != "gc-2")
    return world
