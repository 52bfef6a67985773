"""What reps do in the CRM: owner gaps and mistakes, and the calls, emails and tasks they log.

Follow-up triggers (a positive reply, a procurement ask, a referral, a demo request from a known contact) get a
first touch by the contact's owner after a delay: most within hours, some days late, some never. Background
activity (check-ins, tasks not yet done, a colleague's call) surrounds them, so finding "the first touch by the
owner" needs the right records, the right person and completed work only. Drawn from their own random streams,
so adding them changed no other file of the world.

Truth: `activities` (every logged activity, with the person), `sla_triggers` (what asked for a follow-up and
when), `owner_issues` (contacts exported without an owner or with one from the wrong territory) and
`scheduled_activities` (touches the clock has not reached yet; next-hour mode writes them as time passes).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from . import vocab as V
from .util import DAY, HOUR, ts_hub

# Positive replies that ask for procurement paperwork (their SLA channel is `procurement_ask`).
PROCUREMENT_PATTERN = r"(?i)procurement|security questionnaire|vendor onboarding|\bMSA\b"
UNOWNED_SHARE = 0.02
WRONG_TERRITORY_SHARE = 0.02
NEVER_TOUCHED_SHARE = 0.10
LATE_SHARE = 0.20
DRAWN_COLUMNS = {
    "person_id": pl.Int64, "record_id": pl.Int64, "owner": pl.String,
    "t": pl.Int64, "kind": pl.String, "completed": pl.Boolean, "trigger_id": pl.String,
}
ACTIVITY_COLUMNS = {"activity_id": pl.Int64, **DRAWN_COLUMNS}


def owner_issues(rng: np.random.Generator, recs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Some people are exported with no owner on any of their records, some with an owner from another
    territory (all records of the person alike, so the golden record shows it). Returns (records, truth)."""
    territory_of = dict(V.OWNERS)
    owners = np.array([name for name, _ in V.OWNERS])
    people = recs.select("person_id", "owner").unique("person_id", keep="first", maintain_order=True)
    u = rng.random(people.height)
    other = owners[rng.integers(0, len(owners), people.height)]
    current = people["owner"].to_numpy()
    same_territory = np.array([territory_of.get(o) == territory_of.get(c) for o, c in zip(other, current, strict=True)])
    # Re-draw once where the random owner happens to share the territory; what still does is left alone.
    other = np.where(same_territory, owners[rng.integers(0, len(owners), people.height)], other)
    wrong = np.array([territory_of.get(o) != territory_of.get(c) for o, c in zip(other, current, strict=True)])
    issue = np.where(u < UNOWNED_SHARE, "unowned", np.where((u < UNOWNED_SHARE + WRONG_TERRITORY_SHARE) & wrong,
                                                            "wrong_territory", ""))
    new_owner = np.where(issue == "unowned", "", np.where(issue == "wrong_territory", other, current))
    changes = pl.DataFrame({"person_id": people["person_id"], "issue": issue, "crm_owner": new_owner,
                            "right_owner": current})
    recs = recs.join(changes.select("person_id", "crm_owner"), on="person_id", how="left", maintain_order="left")
    recs = recs.with_columns(owner=pl.col("crm_owner")).drop("crm_owner")
    return recs, changes.filter(pl.col("issue") != "")


def _epoch(ts: pl.Expr) -> pl.Expr:
    return ts.str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC").dt.epoch("s")


def follow_up_triggers(email_events: pl.DataFrame, replies: pl.DataFrame, leads_landing: pl.DataFrame,
                       leads_truth: pl.DataFrame, recs: pl.DataFrame) -> pl.DataFrame:
    """Everything that asks the owner for a quick first touch: positive replies (procurement asks among them),
    referrals, and demo requests from people already in the CRM."""
    reply_times = email_events.filter(pl.col("type") == "reply").select(
        "event_id", _epoch(pl.col("timestamp")).alias("t"))
    from_replies = replies.filter(pl.col("true_class").is_in(["positive", "wrong_person_referral"])).join(
        reply_times, on="event_id").select(
        pl.col("event_id").alias("trigger_id"),
        pl.when(pl.col("true_class") == "wrong_person_referral").then(pl.lit("referral"))
        .when(pl.col("reply_text").str.contains(PROCUREMENT_PATTERN)).then(pl.lit("procurement_ask"))
        .otherwise(pl.lit("positive_reply")).alias("channel"),
        "person_id", "record_id", pl.col("t").alias("triggered_at"))
    primary = recs.filter(pl.col("is_original")).select("person_id", "record_id")
    frames = [from_replies]
    if leads_landing.height:
        demo = leads_landing.select(
            pl.col("Submission ID").alias("trigger_id"), pl.col("Lead Source").alias("source"),
            pl.col("Submitted At").alias("submitted")).join(
            leads_truth.select(pl.col("submission_id").alias("trigger_id"), "person_id", "expected_status"),
            on="trigger_id").filter(
            (pl.col("source") == "demo_request") & pl.col("person_id").is_not_null()
            & (pl.col("expected_status") == "accepted")).join(primary, on="person_id")
        # Forms write ISO times, webinar/list tools HubSpot's style; demo requests are forms.
        frames.append(demo.select(
            "trigger_id", pl.lit("inbound_demo_request").alias("channel"), "person_id", "record_id",
            _epoch(pl.col("submitted")).alias("triggered_at")))
    return pl.concat(frames, how="vertical_relaxed").with_columns(
        pl.col("person_id").cast(pl.Int64), pl.col("record_id").cast(pl.Int64),
        pl.col("triggered_at").cast(pl.Int64))


def touches_for(rng: np.random.Generator, triggers: pl.DataFrame, recs: pl.DataFrame) -> pl.DataFrame:
    """The owner's planned first touch of each trigger (none for some), on one of the person's records; for
    people without an owner, a rep of their true territory picks it up, later. Also a colleague's call
    before it now and then (not the owner's touch) and a task created but not done yet."""
    if triggers.height == 0:
        return pl.DataFrame(schema=DRAWN_COLUMNS)
    owner_of = recs.filter(pl.col("is_original")).select("person_id", "owner")
    records_of = recs.group_by("person_id").agg(pl.col("record_id").sort().alias("records"))
    t = triggers.join(owner_of, on="person_id", how="left").join(records_of, on="person_id", how="left")
    n = t.height
    u = rng.random((n, 6))
    median_h = np.where(t["channel"].to_numpy() == "referral", 20.0, 2.5)
    delay = np.exp(np.log(median_h * HOUR) + 0.9 * rng.standard_normal(n))
    late = u[:, 0] < LATE_SHARE
    delay = np.where(late, delay + rng.uniform(1, 6, n) * DAY, delay)
    unowned = t["owner"].fill_null("").to_numpy() == ""
    delay = np.where(unowned, delay + 2 * DAY, delay)
    touched = u[:, 1] >= NEVER_TOUCHED_SHARE
    owners = np.array([name for name, _ in V.OWNERS])
    owner = np.where(unowned, owners[rng.integers(0, len(owners), n)], t["owner"].fill_null("").to_numpy())
    rec_lists = t["records"].to_list()
    pick_dup = u[:, 2] < 0.2
    record = np.array([r[-1] if dup and len(r) > 1 else r[0] for r, dup in zip(rec_lists, pick_dup, strict=True)])
    kind = np.array(["CALL", "EMAIL", "TASK"])[rng.integers(0, 3, n)]
    trig_t = t["triggered_at"].to_numpy()
    first = pl.DataFrame({
        "person_id": t["person_id"], "record_id": record, "owner": owner, "t": trig_t + delay.astype(np.int64),
        "kind": kind, "completed": np.ones(n, bool), "trigger_id": t["trigger_id"],
    }).filter(pl.Series(touched))
    # A colleague's call before the owner's touch: not a first touch by the owner.
    col = u[:, 3] < 0.15
    colleague = owners[rng.integers(0, len(owners), n)]
    colleague = np.where(colleague == owner, owners[(np.searchsorted(owners, colleague) + 1) % len(owners)],
                         colleague)
    col_frame = pl.DataFrame({
        "person_id": t["person_id"], "record_id": t["records"].list.first(), "owner": colleague,
        "t": trig_t + (delay * 0.5).astype(np.int64) + 60, "kind": np.full(n, "CALL"), "completed": np.ones(n, bool),
        "trigger_id": pl.Series([None] * n, dtype=pl.String),
    }).filter(pl.Series(col & ~unowned))
    # A follow-up task the owner created but has not done: not a touch.
    open_task = u[:, 4] < 0.15
    task_frame = pl.DataFrame({
        "person_id": t["person_id"], "record_id": t["records"].list.first(), "owner": owner,
        "t": trig_t + 600, "kind": np.full(n, "TASK"), "completed": np.zeros(n, bool),
        "trigger_id": pl.Series([None] * n, dtype=pl.String),
    }).filter(pl.Series(open_task))
    return pl.concat([first, col_frame, task_frame], how="vertical_relaxed").with_columns(
        pl.col("person_id").cast(pl.Int64), pl.col("record_id").cast(pl.Int64), pl.col("t").cast(pl.Int64))


def background_activity(rng: np.random.Generator, recs: pl.DataFrame, t0: int, t1: int, rate: float
                        ) -> pl.DataFrame:
    """Check-ins unrelated to any trigger: calls and emails by the owner over the period."""
    people = recs.filter(pl.col("is_original") & (pl.col("owner").fill_null("") != ""))
    if people.height == 0:
        return pl.DataFrame(schema=DRAWN_COLUMNS)
    lam = rate * (0.3 + people["intent"].to_numpy())
    k = rng.poisson(lam)
    idx = np.repeat(np.arange(people.height), k)
    m = len(idx)
    return pl.DataFrame({
        "person_id": people["person_id"].gather(idx), "record_id": people["record_id"].gather(idx),
        "owner": people["owner"].gather(idx), "t": rng.integers(t0, t1, m),
        "kind": np.array(["CALL", "EMAIL"])[rng.integers(0, 2, m)], "completed": np.ones(m, bool),
        "trigger_id": pl.Series([None] * m, dtype=pl.String),
    }).with_columns(pl.col("person_id").cast(pl.Int64), pl.col("record_id").cast(pl.Int64))


def number_activities(acts: pl.DataFrame, first_id: int) -> pl.DataFrame:
    """Sort by time and give HubSpot-style numeric ids from `first_id`."""
    acts = acts.sort(["t", "person_id", "kind"])
    return acts.with_columns(activity_id=pl.int_range(first_id, first_id + acts.height, dtype=pl.Int64)).select(
        list(ACTIVITY_COLUMNS))


def activities_landing(a: pl.DataFrame) -> pl.DataFrame:
    """Activities (with the contact's `company_record_id`) -> the HubSpot activity export."""
    subject = (pl.when(pl.col("kind") == "CALL").then(pl.lit("Call"))
               .when(pl.col("kind") == "EMAIL").then(pl.lit("Follow-up email"))
               .otherwise(pl.lit("Follow up")))
    return a.select(
        pl.col("activity_id").cast(pl.String).alias("Record ID"),
        pl.col("kind").alias("Activity type"),
        ts_hub("t").alias("Activity date"),
        pl.col("owner").alias("Activity assigned to"),
        subject.alias("Subject"),
        pl.when(pl.col("kind") == "CALL").then(pl.lit("Connected")).otherwise(pl.lit("")).alias("Call outcome"),
        pl.when(pl.col("kind") != "TASK").then(pl.lit(""))
        .when(pl.col("completed")).then(pl.lit("COMPLETED")).otherwise(pl.lit("NOT_STARTED")).alias("Task status"),
        pl.col("record_id").cast(pl.String).alias("Associated Contact IDs"),
        pl.col("company_record_id").cast(pl.String).fill_null("").alias("Associated Company IDs"),
    )


__all__ = [
    "PROCUREMENT_PATTERN", "activities_landing", "background_activity", "follow_up_triggers", "number_activities",
    "owner_issues", "touches_for",
]
