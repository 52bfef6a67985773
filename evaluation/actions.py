"""The planner's proposals against the sample world's truth (`make eval-actions`).

Builds (or reuses) a sample world and its warehouse with `actionhouse refresh` — the refresh runs the planner into
the world's own operational store — then plans once more on the same data (nothing new may be queued) and checks:

- `suppressed_targets`, `cap_violations`, `customer_facing_auto`: the queue's safety promises (must be 0);
- `duplicate_proposals`: decision slots holding more than one live or decided action, after two planning runs;
- `unsubscribe_suppressed_same_refresh`: share of replies that truly ask to be removed whose sender is on the
  suppression list after the refresh that loaded them;
- `reply_routing_accuracy`: share of recent replies whose next step fits their true class (positive: a task for
  the owner or, when the model is unsure, a person; objection / not now: a follow-up date; referral: add the
  person named or a person finds them; compliance threat and unclear: a person; a suppressed sender: nothing);
- `sla_breach_precision` / `sla_breach_recall`: escalated follow-ups vs the truly breached ones (no logged touch —
  call, email, completed task or booked meeting — by the owner on any record of the person by the as-of moment,
  past the policy's due time; a contact on the suppression list is not followed up, so not counted);
- `routing_in_territory`: share of owner assignments to a rep whose territory covers the person's true country;
- `at_risk_precision` / `at_risk_recall`: customer accounts the at-risk verdict flags (the tiers the planner acts
  on) vs the accounts the world made at risk; `at_risk_proposed_share`: flagged accounts with a proposal queued;
- `draft_unknown_fields`: queued drafts with a substituted field the record does not hold (blank, not in the text,
  or a placeholder left unrendered); `banned_content_sent_for_review`: queued drafts whose text hits a banned
  claim or topic of the policy (both must be 0);
- `noshow_recovery_once`: share of recent no-show meetings with at most one reschedule note in the queue after
  three planning runs, the last five days later when every undecided note has expired (must be 1.0);
- `slots_outside_window`: proposed meeting slots outside the owner's or the contact's window or within the buffer
  of one of the owner's meetings (must be 0); `meeting_intent_precision`: meeting proposals answering a reply that
  truly asks for a meeting;
- `sequence_drafts`: step drafts (W6) in the queue for the sequences W5 queued; `sequence_draft_missing_field_blocked`
  / `sequence_draft_banned_blocked`: step drafts refused on the second run (a field the golden record lacks; a banned
  claim or topic in the rendered text), of the `sequence_draft_steps` drafted for every sequence W5 proposed above
  its floor (queued or waiting for the daily cap); `sequence_draft_tier1_review_share`: queued step drafts to Tier 1
  contacts that wait for a person's approval (must be 1.0), of `sequence_drafts_tier1`;
- `do_not_send_share`: prospects with a buying signal whose best catalogue sequence is below the policy's confidence
  floor (nothing proposed), of all prospects with a signal;
- `hygiene_max_tasks_per_owner_day`: the most hygiene tasks and deal flags any owner got on one day (after the
  refresh and the second planning run; must not exceed `hygiene_cap`);
- `planner_seconds`: reading the candidate marts and planning, timed on its own.

Usage: python -m evaluation.actions [--contacts 100000] [--seed 11] [--work-dir bench_data/actions_100000]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import sqlalchemy as sa

from actions.calendar import time_zone_of
from actions.catalog import Workflow
from actions.checks import queue_safety
from actions.drafts import banned_hits
from actions.inputs import load_inputs
from actions.planner import StoreView, apply_plan, plan
from actions.policy import load_policy
from actions.queue import DecisionQueue
from actions.states import State
from actions.suppression import SuppressionList
from actions.workflows.meetings import owner_time_zone, slot_fits
from actions.workflows.sla import sla_timers
from evaluation.scoring import PROJECT_ROOT, prepare_world
from ops_store import open_store
from ops_store.schema import actions, utc_now
from sample_world import load_truth

DEFAULT_SEED = 11  # not a seed any planner threshold was tuned on
ROUTES = {
    "positive": {"create_task", "escalate_reply"},
    "objection": {"set_follow_up_date"},
    "not_now": {"set_follow_up_date"},
    "wrong_person_referral": {"add_referred_contact", "escalate_reply"},
    "compliance_threat": {"escalate_reply"},
    "unsubscribe": {"suppressed"},
}
CHANNEL_OF_CLASS = {"positive_reply": "positive_reply", "procurement_ask": "procurement_ask", "referral": "referral"}


def _actions_frame(engine: sa.Engine) -> pl.DataFrame:
    with engine.connect() as con:
        rows = con.execute(
            sa.select(
                actions.c.action_id,
                actions.c.slot_key,
                actions.c.workflow,
                actions.c.action_type,
                actions.c.state,
                actions.c.target_id,
                actions.c.target_kind,
                actions.c.payload,
                actions.c.evidence,
            )
        ).all()
    return pl.DataFrame(
        [
            {
                "action_id": r[0],
                "slot_key": r[1],
                "workflow": r[2],
                "action_type": r[3],
                "state": r[4],
                "target_id": r[5],
                "target_kind": r[6],
                "new_owner": (r[7] or {}).get("new_owner"),
                "sla_trigger": (r[7] or {}).get("sla_trigger"),
                "reply_event": next((e["key"] for e in r[8] if e["source_table"] == "ml.reply_classifications"), None),
                "account": (r[7] or {}).get("account"),
            }
            for r in rows
        ],
        schema={
            "action_id": pl.String,
            "slot_key": pl.String,
            "workflow": pl.String,
            "action_type": pl.String,
            "state": pl.String,
            "target_id": pl.String,
            "target_kind": pl.String,
            "new_owner": pl.String,
            "sla_trigger": pl.String,
            "reply_event": pl.String,
            "account": pl.String,
        },
    )


def _meetings_logged(world: Path) -> pl.DataFrame:
    """Meetings the world logged (owner, creation time, person): a meeting booked is a touch too."""
    files = sorted((world / "landing" / "hubspot_meetings").glob("*.csv"))
    if not files:
        return pl.DataFrame(schema={"person_id": pl.Int64, "owner": pl.String, "t": pl.Int64})
    meetings = pl.concat([pl.read_csv(f, infer_schema=False) for f in files], how="diagonal_relaxed")
    people = load_truth(world, "contacts").select(pl.col("record_id").cast(pl.String), "person_id")
    return (
        meetings.select(
            pl.col("Associated Contact IDs").alias("record_id"),
            pl.col("Activity assigned to").alias("owner"),
            pl.col("Create Date").str.to_datetime("%Y-%m-%d %H:%M", time_zone="UTC").dt.epoch("s").alias("t"),
        )
        .join(people, on="record_id")
        .select("person_id", "owner", "t")
    )


def _golden_of_person(con: duckdb.DuckDBPyConnection, world: Path) -> pl.DataFrame:
    crosswalk = con.sql("select source_record_id as record_id, golden_contact_id from marts.contact_crosswalk").pl()
    return crosswalk.join(load_truth(world, "contacts").select("record_id", "person_id"), on="record_id")


def at_risk_figures(con: duckdb.DuckDBPyConnection, world: Path, queued: pl.DataFrame, acted_tiers: set[int]):
    """The at-risk verdict (tiers the planner acts on) against the world's truth of which customer accounts are
    at risk: precision, recall, and the share of flagged accounts that got a proposal in the queue."""
    verdicts = con.sql(
        "select golden_account_id, risk_tier, company_record_ids[1] as record_id from marts.fct_account_risk"
    ).pl()
    truth_of_record = load_truth(world, "companies").select("record_id", "account_id")
    accounts = pl.read_parquet(world / "truth" / "accounts.parquet").select("account_id", "is_customer", "at_risk")
    judged = verdicts.join(truth_of_record, on="record_id", how="left").join(accounts, on="account_id", how="left")
    flagged = judged.filter(pl.col("risk_tier").is_in(sorted(acted_tiers)))
    true_accounts = set(accounts.filter(pl.col("at_risk"))["account_id"].to_list())
    hit = flagged.filter(pl.col("at_risk").fill_null(False))
    proposed = set(queued.filter(pl.col("workflow") == "at_risk")["account"].drop_nulls().to_list())
    return {
        "at_risk_precision": round(hit.height / flagged.height, 4) if flagged.height else 1.0,
        "at_risk_recall": round(hit["account_id"].n_unique() / len(true_accounts), 4) if true_accounts else 1.0,
        "at_risk_flagged": flagged.height,
        "at_risk_true": len(true_accounts),
        "at_risk_proposed_share": round(len(proposed & set(flagged["golden_account_id"].to_list())) / flagged.height, 4)
        if flagged.height
        else 1.0,
    }


def evaluate(world: Path, warehouse: Path, policy_path: str | None = None) -> dict[str, float | int]:
    """All figures of the eval line for a built world."""
    policy = load_policy(policy_path)
    engine = open_store(f"sqlite:///{world / 'operations.sqlite'}")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        started = time.perf_counter()
        inputs = load_inputs(con)
        now = utc_now()
        scratch = open_store("sqlite://")
        plan(inputs, policy, StoreView.read(scratch, policy, now), now=now, run_id="eval-timing")
        planner_seconds = time.perf_counter() - started
        scratch.dispose()
        # A second planning run on the same data: nothing it proposes may be a second action for a slot.
        again = plan(inputs, policy, StoreView.read(engine, policy, now), now=now, run_id=f"eval-{now:%Y%m%d%H%M%S%f}")
        apply_plan(again, engine, policy)
        # Sequence selection: prospects with a signal whose best match is below the confidence floor (do not send).
        do_not_send = sum(1 for b in again.blocked if b.rule == "sequences.confidence_floor")
        step_refusals = Counter(b.rule for b in again.blocked if b.proposal.workflow == Workflow.SEQUENCE_DRAFTS)
        # Every step drafted: the ones the planner went on with, and the ones the drafting itself refused.
        step_count = again.candidates.get(Workflow.SEQUENCE_DRAFTS, 0) + sum(
            n for rule, n in step_refusals.items() if rule.startswith(("drafts.", "content.", "sequence_drafts."))
        )
        sequence_candidates = do_not_send + again.candidates.get(Workflow.SEQUENCES, 0)
        # Days later, after every undecided proposal expired: a missed meeting still gets no second reschedule note.
        later = now + timedelta(days=5)
        DecisionQueue(engine, policy, clock=lambda: later).expire_due()
        third = plan(
            inputs, policy, StoreView.read(engine, policy, later), now=later, run_id=f"eval-{later:%Y%m%d%H%M%S%f}"
        )
        apply_plan(third, engine, policy)
        no_show_meetings = {str(m) for m in inputs.no_shows["meeting_id"].to_list()}
        golden = _golden_of_person(con, world)
        emails = con.sql("select contact_id as record_id, email from staging.stg_hubspot__contacts").pl()
        queued = _actions_frame(engine)
        acted = set(policy.at_risk.outreach_tiers + policy.at_risk.escalate_tiers) if policy.at_risk else set()
        at_risk = at_risk_figures(con, world, queued, acted)
    safety = queue_safety(engine, policy)
    live = queued.filter(~pl.col("state").is_in([State.EXPIRED.value, State.WITHDRAWN.value]))
    duplicates = live.group_by("slot_key").len().filter(pl.col("len") > 1).height

    # Unsubscribes: every reply that truly asks to stop -> its sender's email on the list.
    replies = load_truth(world, "replies")
    suppressed = SuppressionList(engine).snapshot()
    asked = replies.filter(pl.col("true_class") == "unsubscribe").join(emails, on="record_id", how="left")
    listed = asked["email"].map_elements(lambda e: e is not None and e in suppressed.emails, return_dtype=pl.Boolean)
    unsubscribe_share = float(listed.mean()) if asked.height else 1.0

    # Reply routing: recent replies' next step against their true class.
    since = inputs.as_of - timedelta(days=policy.reply_routing.lookback_days)
    recent = inputs.replies.filter((pl.col("replied_at") >= since) & (pl.col("replied_at") <= inputs.as_of)).select(
        "event_id", "golden_contact_id"
    )
    routed = queued.filter(pl.col("workflow") == "reply_routing").select(
        pl.col("reply_event").alias("event_id"), "action_type"
    )
    contact_emails = inputs.contacts.select("golden_contact_id", "emails")
    judged = (
        recent.join(replies.select("event_id", "true_class"), on="event_id")
        .join(routed, on="event_id", how="left")
        .join(contact_emails, on="golden_contact_id", how="left")
    )
    correct = 0
    for row in judged.iter_rows(named=True):
        is_suppressed = suppressed.reason(row["emails"] or [], None) is not None
        route = "suppressed" if is_suppressed and row["action_type"] is None else row["action_type"]
        correct += route in ROUTES.get(row["true_class"], set()) or (is_suppressed and route == "suppressed")
    routing_accuracy = correct / judged.height if judged.height else 1.0

    # SLA: the planner's escalated triggers vs the truly breached ones.
    timers = sla_timers(inputs, policy).filter(pl.col("state").is_in(["breached", "open", "met", "late"]))
    truth_triggers = load_truth(world, "sla_triggers")
    activities = pl.concat(
        [
            load_truth(world, "activities").filter(pl.col("completed")).select("person_id", "owner", "t"),
            _meetings_logged(world),
        ]
    )
    people = load_truth(world, "people").select("person_id", pl.col("owner").alias("person_owner"), "country")
    as_of_s = int(inputs.as_of.timestamp())
    window_start = int((inputs.as_of - timedelta(days=policy.sla.lookback_days)).timestamp())
    tiers = inputs.contacts.select("golden_contact_id", pl.col("tier").fill_null(3))
    person_golden = golden.unique("person_id", keep="first").select("person_id", "golden_contact_id")
    t = (
        truth_triggers.filter((pl.col("triggered_at") >= window_start) & (pl.col("triggered_at") <= as_of_s))
        .join(person_golden, on="person_id", how="left")
        .join(tiers, on="golden_contact_id", how="left")
        .join(people, on="person_id", how="left")
        .with_columns(tier=pl.col("tier").fill_null(3))
    )
    hours = pl.DataFrame(
        [(ch, tier, policy.sla_hours(ch, tier)) for ch in policy.sla.hours for tier in (1, 2, 3)],
        schema={"channel": pl.String, "tier": pl.Int64, "sla_hours": pl.Float64},
        orient="row",
    )
    t = t.join(hours, on=["channel", "tier"], how="left").with_columns(
        due=pl.col("triggered_at") + (pl.col("sla_hours") * 3600).cast(pl.Int64)
    )
    touches = t.join(
        activities.select("person_id", pl.col("owner").alias("by"), pl.col("t").alias("touched")), on="person_id"
    ).filter(
        (pl.col("touched") >= pl.col("triggered_at"))
        & (pl.col("touched") <= as_of_s)
        & ((pl.col("person_owner").fill_null("") == "") | (pl.col("by") == pl.col("person_owner")))
    )
    touched = set(touches["trigger_id"].to_list())
    # A contact on the suppression list is not followed up: no escalation is the right call for them.
    suppressed_contacts = {
        row["golden_contact_id"]
        for row in inputs.contacts.select("golden_contact_id", "emails").iter_rows(named=True)
        if suppressed.reason(row["emails"] or [], None)
    }
    truly_breached = set(
        t.filter(
            (pl.col("due") < as_of_s)
            & ~pl.col("trigger_id").is_in(list(touched))
            & ~pl.col("golden_contact_id").is_in(list(suppressed_contacts))
        )["trigger_id"]
    )
    escalated = set(queued.filter(pl.col("action_type") == "sla_escalation")["sla_trigger"].drop_nulls())
    escalated &= set(timers["trigger_id"].to_list())
    hit = len(escalated & truly_breached)
    sla_precision = hit / len(escalated) if escalated else 1.0
    sla_recall = hit / len(truly_breached) if truly_breached else 1.0

    # Routing: the new owner's territory covers the person's true country.
    countries = golden.join(people.select("person_id", "country"), on="person_id").unique("golden_contact_id")
    assigned = queued.filter(
        (pl.col("action_type") == "assign_owner")
        & (pl.col("target_kind") == "contact")
        & (pl.col("new_owner") != policy.routing.nurture_owner)
    ).join(countries.select(pl.col("golden_contact_id").alias("target_id"), "country"), on="target_id", how="left")
    territory_of = policy.territory_of_owner()
    covering = policy.territories_of_country()
    in_territory = [
        territory_of.get(owner) in covering.get(country or "", [])
        for owner, country in assigned.select("new_owner", "country").iter_rows()
    ]
    # Grounded drafts in the queue: a field used that the record does not hold (blank, or a placeholder left in the
    # text, or a value not in the text), and banned claims or topics that reached a person's review.
    with engine.connect() as con:
        drafts = [
            payload
            for (payload,) in con.execute(sa.select(actions.c.payload).where(actions.c.action_type == "send_email"))
            if payload and "field_map" in payload and payload.get("body") is not None
        ]
    unknown_fields = sum(
        1
        for d in drafts
        if "{{" in f"{d['subject']}{d['body']}"
        or any(not str(v).strip() or str(v) not in f"{d['subject']}\n{d['body']}" for v in d["field_map"].values())
    )
    banned_in_review = sum(
        1
        for d in drafts
        if banned_hits(f"{d['subject']}\n{d['body']}", policy.content.banned_claims, policy.content.topic_phrase_map())
    )
    # No-show recovery: reschedule notes per missed meeting, over three planning runs days apart.
    with engine.connect() as con:
        notes = Counter(
            (payload or {}).get("meeting")
            for (payload,) in con.execute(
                sa.select(actions.c.payload).where(
                    actions.c.workflow == "no_show", actions.c.action_type == "send_email"
                )
            )
        )
    once = [notes.get(m, 0) <= 1 for m in no_show_meetings]
    # Meeting proposals: every proposed slot re-checked against both windows and the owner's calendar, and the
    # replies they answer against the world's truth of which replies ask for a meeting.
    with engine.connect() as con:
        proposals = [
            (owner, payload, target)
            for owner, payload, target in con.execute(
                sa.select(actions.c.owner, actions.c.payload, actions.c.target_id).where(
                    actions.c.workflow == "meetings", actions.c.action_type == "send_email"
                )
            )
        ]
    busy: dict[str, list] = {}
    for owner, start, end in inputs.owner_calendar.select("owner", "meeting_start_at", "meeting_end_at").iter_rows():
        busy.setdefault(owner, []).append((start, end))
    countries = dict(inputs.contacts.select("golden_contact_id", "country_code").iter_rows())
    outside = 0
    for owner, payload, target in proposals:
        for slot in payload.get("slots", []):
            start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
            fits = slot_fits(
                start,
                end,
                owner_time_zone(policy, owner),
                time_zone_of(countries.get(target)),
                policy,
                busy.get(owner, []),
            )
            outside += not fits
    asks = (
        dict(replies.select("event_id", "asks_for_meeting").iter_rows())
        if "asks_for_meeting" in replies.columns
        else {}
    )
    answered = [asks.get(payload.get("reply_event")) for _, payload, _ in proposals]
    # Hygiene: the most tasks and flags any owner got on one day (the policy caps it).
    with engine.connect() as con:
        per_owner_day = con.execute(
            sa.select(actions.c.owner, actions.c.proposed_at).where(
                actions.c.workflow == "hygiene", actions.c.action_type.in_(["create_task", "flag_deal"])
            )
        ).all()
    hygiene_days = Counter((owner, at.date()) for owner, at in per_owner_day)
    # Sequence-step drafts (W6): every Tier 1 draft waits for a person.
    with engine.connect() as con:
        step_drafts = con.execute(
            sa.select(actions.c.risk_class, actions.c.payload).where(
                actions.c.workflow == Workflow.SEQUENCE_DRAFTS.value
            )
        ).all()
    tier1_classes = [risk for risk, payload in step_drafts if (payload or {}).get("tier") == 1]
    engine.dispose()
    return {
        "proposals": queued.height,
        "suppressed_targets": len(safety.suppressed_targets),
        "cap_violations": len(safety.cap_violations),
        "customer_facing_auto": len(safety.customer_facing_auto),
        "duplicate_proposals": duplicates,
        "unsubscribe_suppressed_same_refresh": round(unsubscribe_share, 4),
        "reply_routing_accuracy": round(routing_accuracy, 4),
        "sla_breach_precision": round(sla_precision, 4),
        "sla_breach_recall": round(sla_recall, 4),
        "routing_in_territory": round(sum(in_territory) / len(in_territory), 4) if in_territory else 1.0,
        **at_risk,
        "drafts_queued": len(drafts),
        "draft_unknown_fields": unknown_fields,
        "banned_content_sent_for_review": banned_in_review,
        "noshow_recovery_once": round(sum(once) / len(once), 4) if once else 1.0,
        "noshow_meetings": len(no_show_meetings),
        "noshow_notes": sum(notes.values()),
        "meeting_proposals": len(proposals),
        "slots_outside_window": outside,
        "meeting_intent_precision": round(sum(bool(a) for a in answered) / len(answered), 4) if answered else 1.0,
        "sequence_drafts": len(step_drafts),
        "sequence_draft_missing_field_blocked": step_refusals["drafts.missing_field"],
        "sequence_draft_banned_blocked": sum(n for rule, n in step_refusals.items() if rule.startswith("content.")),
        "sequence_draft_tier1_review_share": round(tier1_classes.count("approve") / len(tier1_classes), 4)
        if tier1_classes
        else 1.0,
        "sequence_drafts_tier1": len(tier1_classes),
        "sequence_draft_steps": step_count,
        "do_not_send_share": round(do_not_send / sequence_candidates, 4) if sequence_candidates else 0.0,
        "sequence_candidates": sequence_candidates,
        "hygiene_max_tasks_per_owner_day": max(hygiene_days.values(), default=0),
        "hygiene_cap": policy.hygiene.max_items_per_owner_per_day if policy.hygiene else 0,
        "planner_seconds": round(planner_seconds, 2),
        "sla_breaches_true": len(truly_breached),
        "reply_routing_judged": judged.height,
    }


def main(argv: list[str] | None = None) -> int:
    """Build or reuse the world, evaluate, print one `eval-actions key=value ...` line."""
    parser = argparse.ArgumentParser(prog="python -m evaluation.actions", description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    world = (args.work_dir or PROJECT_ROOT / "bench_data" / f"actions_{args.contacts}").resolve()
    world.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"[eval-actions] world of {args.contacts:,} contacts (seed {args.seed}) in {world} ...", flush=True)
    warehouse = prepare_world(world, args.contacts, args.seed)
    print(f"[eval-actions] warehouse ready ({time.perf_counter() - started:.0f} s); evaluating ...", flush=True)
    figures = evaluate(world, warehouse)
    print(
        "eval-actions " + " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
