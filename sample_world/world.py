"""Orchestrates the sample world: full generation in chunks, and the incremental "next hours" mode."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from . import activity as A
from . import answers as AN
from . import entities as E
from . import sales_activity as S
from .answers import Effects
from .reply_labels import reply_labels
from .util import BASE_NOW, DAY, HISTORY_DAYS, HOUR, Writer, rng_for

CHUNK_PEOPLE = 18_000          # people per chunk -> ~20k contact rows, ~150k-200k events per event file
COMPANY_FILE_ROWS = 100_000
USAGE_DAYS = HISTORY_DAYS
ID_BASE = {"contact": 1_000_001, "company": 50_000_001, "activity": 60_000_001, "deal": 70_000_001,
           "meeting": 80_000_001, "ticket": 90_000_001, "renewal_deal": 75_000_001}
SOURCES = ["hubspot_contacts", "hubspot_companies", "hubspot_deals", "hubspot_meetings", "hubspot_tickets",
           "hubspot_activities", "leads", "product_usage", "email_events", "web_events", "product_events",
           "enrichment", "signals"]
# Background check-ins per person over the whole history (more for people with intent).
BACKGROUND_ACTIVITY_RATE = 0.4

# Columns of the people truth. Besides the documented ones (person_id, account_id, fit, intent,
# converted, won) it keeps the primary record's CRM fields so "next hours" mode can keep generating
# activity for existing people without re-reading the landing files.
PEOPLE_COLS = [
    "person_id", "account_id", "record_id", "fit", "intent", "p_convert", "converted", "converted_at",
    "has_opportunity", "won", "role", "seniority", "job_title", "first_name", "last_name", "email",
    "unsubscribed", "identified", "negative_kind", "lookalike_person_id", "is_customer", "company_name",
    "domain", "website", "country", "city", "state", "postal", "street", "dial", "nanp", "nsn", "li_tag",
    "phone", "mobile", "linkedin_url", "owner", "employees", "industry", "created_at", "modified_at",
    "lifecycle", "lead_status", "original_source", "human_verified", "company_record_id",
    "phone_missing", "title_missing",
]


@dataclass
class WorldSummary:
    """What a generation run wrote: landing/truth file paths (relative to out_dir), rows per source."""

    out_dir: str
    files: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    people: int = 0
    accounts: int = 0
    clock: str = ""

    @property
    def events(self) -> int:
        return sum(self.rows.get(s, 0) for s in ("email_events", "web_events", "product_events"))


def _say(progress, msg):
    if progress:
        progress(msg)


def _iso(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def load_truth(out_dir: Path, name: str) -> pl.DataFrame:
    """Read one truth table including its next-hour part files (`name.parquet` + `name_hNNNN.parquet`)."""
    truth = Path(out_dir) / "truth"
    files = [truth / f"{name}.parquet", *sorted(truth.glob(f"{name}_h*.parquet"))]
    frames = [pl.read_parquet(f) for f in files if f.exists()]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def _records_with_owner(record_people: pl.DataFrame, people: pl.DataFrame) -> pl.DataFrame:
    """Every contact record with its person's CRM owner, intent and company (what next-hour activity needs)."""
    return record_people.join(
        people.select("person_id", "owner", "intent", "company_record_id"), on="person_id", how="inner")


def generate_world(out_dir: Path, contacts: int = 5000, seed: int = 42,
                   progress: Callable[[str], None] | None = None, overwrite: bool = True) -> WorldSummary:
    """Generate a complete CRM world: landing files per the landing contract plus hidden truth.

    `contacts` is the approximate number of contact rows (people plus ~10% duplicate records).
    Output is byte-identical for the same (contacts, seed). Existing landing/ and truth/ folders under
    out_dir are replaced when `overwrite` (the default), else a FileExistsError is raised.
    """
    t_start = time.perf_counter()
    out = Path(out_dir)
    truth_dir = out / "truth"
    if (truth_dir / "world_state.json").exists() or (out / "landing").exists():
        if not overwrite:
            raise FileExistsError(f"{out} already holds a world")
        for s in SOURCES:
            shutil.rmtree(out / "landing" / s, ignore_errors=True)
        shutil.rmtree(truth_dir, ignore_errors=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    w = Writer(out)
    now, t0 = BASE_NOW, BASE_NOW - HISTORY_DAYS * DAY
    n_people = max(10, int(round(contacts / 1.11)))
    n_acc = max(3, int(round(contacts / 10)))
    accounts = E.make_accounts(rng_for(seed, 0), n_acc, 1)
    comp_land, comp_truth = E.company_records(rng_for(seed, 1), accounts, ID_BASE["company"])
    company_rec = pl.DataFrame({"account_id": accounts["account_id"],
                                "company_record_id": comp_land["Record ID"].head(n_acc).cast(pl.Int64)})
    accounts = accounts.with_columns(company_record_id=company_rec["company_record_id"])
    dirty: list[dict] = []
    for i in range(0, comp_land.height, COMPANY_FILE_ROWS):
        extra = []
        if i == 0:
            bad = comp_land.head(1).with_columns(pl.lit("N/A").alias("Record ID"))
            extra = [(min(7, comp_land.height), bad.write_csv(include_header=False).rstrip("\n"))]
        p = w.csv("hubspot_companies", "companies", comp_land.slice(i, COMPANY_FILE_ROWS), extra)
        for idx, _ in extra:
            dirty.append({"source": "hubspot_companies", "file": str(p.relative_to(out)), "line": idx + 2,
                          "reason": "non-numeric Record ID"})
    _say(progress, f"accounts: {n_acc:,} ({comp_land.height:,} company records)")

    # People per account grow sub-linearly with company size.
    rng_c = rng_for(seed, 2)
    wts = accounts["employees"].to_numpy().astype(float) ** 0.45
    counts = rng_c.multinomial(n_people, wts / wts.sum())
    cum = np.cumsum(counts)
    bounds = [0, *list(np.searchsorted(cum, np.arange(CHUNK_PEOPLE, cum[-1], CHUNK_PEOPLE), side="left") + 1)]
    if bounds[-1] != n_acc:
        bounds.append(n_acc)
    # Fold a small tail into the previous chunk rather than writing tiny files.
    if len(bounds) > 2 and cum[-1] - cum[bounds[-2] - 1] < CHUNK_PEOPLE // 2:
        bounds.pop(-2)
    ctr = {"person": 1, "contact": ID_BASE["contact"], "deal": ID_BASE["deal"], "meeting": ID_BASE["meeting"],
           "ticket": ID_BASE["ticket"],
           "renewal_deal": ID_BASE["renewal_deal"], "event": 1, "message": 1, "web": 1, "product": 1, "payload": 1,
           "signal": 1, "submission": 1, "activity": ID_BASE["activity"]}
    truths: dict[str, list[pl.DataFrame]] = {k: [] for k in (
        "contacts", "people", "leads", "replies", "enrichment", "deals", "activities", "sla_triggers",
        "owner_issues", "scheduled_activities", "renewals")}
    for c in range(len(bounds) - 1):
        a0, a1 = bounds[c], bounds[c + 1]
        if a1 <= a0:
            continue
        rng = rng_for(seed, 100, c)
        acc_c = accounts.slice(a0, a1 - a0)
        ppl = E.make_people(rng, acc_c, counts[a0:a1], ctr["person"], now)
        ctr["person"] += ppl.height
        ppl = ppl.with_columns(identified=pl.Series(rng.random(ppl.height) < 0.55 + 0.3 * ppl["intent"].to_numpy()))
        recs, ctruth = E.contact_records(rng, ppl, ctr["contact"], company_rec, now=now)
        ctr["contact"] += recs.height
        recs, owner_truth = S.owner_issues(rng_for(seed, 300, c), recs)
        truths["owner_issues"].append(owner_truth)
        cland = E.contacts_landing(recs)
        extra, reasons = [], []
        if c == 0 and cland.height > 3:
            bad1 = cland.slice(1, 1).with_columns(pl.lit("2026-13-45 25:61").alias("Create Date"))
            bad2 = cland.slice(2, 1).with_columns(
                pl.concat_str([pl.lit("ID-"), pl.col("Record ID")]).alias("Record ID"))
            extra = [(min(5, cland.height), bad1.write_csv(include_header=False).rstrip("\n")),
                     (min(17, cland.height + 1), bad2.write_csv(include_header=False).rstrip("\n"))]
            reasons = ["invalid Create Date", "non-numeric Record ID"]
        p = w.csv("hubspot_contacts", "contacts", cland, extra)
        for (idx, _), why in zip(extra, reasons, strict=True):
            dirty.append({"source": "hubspot_contacts", "file": str(p.relative_to(out)), "line": idx + 2,
                          "reason": why})
        prim = recs.filter(pl.col("is_original")).select("person_id", "record_id")
        prim_full = recs.filter(pl.col("is_original"))
        truths["contacts"].append(ctruth)
        truths["people"].append(prim_full.select(PEOPLE_COLS))

        # Email (records), web and product (people).
        ev, replies, nmsg = A.email_events(rng, recs, t0, now, 1.0, ctr["event"], ctr["message"])
        ctr["event"] += ev.height
        ctr["message"] += nmsg
        extra = []
        if c == 0 and ev.height > 12:
            line = ev.slice(3, 1).write_ndjson().strip()
            extra = [(10, line[: len(line) // 2])]
        p = w.jsonl("email_events", "email_events", [ev], extra)
        if extra:
            dirty.append({"source": "email_events", "file": str(p.relative_to(out)), "line": 11,
                          "reason": "truncated JSON line"})
        truths["replies"].append(replies)
        w.jsonl("email_reply_labels", "reply_labels", [reply_labels(ev, replies, now, seed)])
        frames, nweb = A.web_events(rng, ppl, t0, now, 1.0, ctr["web"])
        ctr["web"] += nweb + frames[2].height
        w.jsonl("web_events", "web_events", frames)
        pev, npe = A.product_events(rng, ppl, acc_c, t0, now, 1.0, ctr["product"])
        ctr["product"] += npe
        w.jsonl("product_events", "product_events", [pev])

        # CRM objects.
        dl, dtruth = A.deals(rng, ppl, acc_c, prim, company_rec, now, ctr["deal"])
        ctr["deal"] += dl.height
        rl, rtruth = A.renewal_deals(rng_for(seed, 302, c), acc_c, company_rec, now, ctr["renewal_deal"])
        ctr["renewal_deal"] += rl.height
        if rl.height:
            dl = pl.concat([dl, rl.select(pl.col(k).cast(v) for k, v in dl.schema.items())], how="vertical")
            truths["renewals"].append(rtruth)
        w.csv("hubspot_deals", "deals", dl)
        truths["deals"].append(dtruth)
        mt = A.meetings(rng, ppl, prim, company_rec, dtruth, now, ctr["meeting"])
        ctr["meeting"] += mt.height
        w.csv("hubspot_meetings", "meetings", mt)
        tk = A.tickets(rng, acc_c, ppl, prim, company_rec, now, ctr["ticket"])
        ctr["ticket"] += tk.height
        w.csv("hubspot_tickets", "tickets", tk)
        w.csv("product_usage", "usage", A.product_usage(rng, acc_c, now, USAGE_DAYS))

        # Enrichment, signals, leads.
        ef, etruth, ctr["payload"] = A.enrichment(rng, recs, acc_c, now, ctr["payload"])
        w.jsonl("enrichment", "enrichment", ef)
        truths["enrichment"].append(etruth)
        sg = A.signals(rng, acc_c, t0, now, ctr["signal"])
        ctr["signal"] += sg.height
        w.jsonl("signals", "signals", [sg])
        n_leads = max(5, int(round(0.05 * ppl.height)))
        ll, ltruth = A.leads(rng, ppl, acc_c, n_leads, t0, now, ctr["submission"])
        ctr["submission"] += ll.height
        extra = []
        if c == 0 and ll.height > 4:
            bad = ll.slice(0, 1).with_columns(pl.lit("yesterday 9am").alias("Submitted At"),
                                              pl.lit("sub-dirty-1").alias("Submission ID"))
            extra = [(3, bad.write_csv(include_header=False).rstrip("\n"))]
        p = w.csv("leads", "leads", ll, extra)
        if extra:
            dirty.append({"source": "leads", "file": str(p.relative_to(out)), "line": 5,
                          "reason": "invalid Submitted At"})
        truths["leads"].append(ltruth)

        # What reps log: first touches of follow-up triggers and background check-ins.
        rng_s = rng_for(seed, 301, c)
        triggers = S.follow_up_triggers(ev, replies, ll, ltruth, recs)
        acts = pl.concat([S.touches_for(rng_s, triggers, recs),
                          S.background_activity(rng_s, recs, t0, now, BACKGROUND_ACTIVITY_RATE)],
                         how="vertical_relaxed")
        acts = S.number_activities(acts, ctr["activity"]).join(
            recs.select("record_id", "company_record_id"), on="record_id", how="left", maintain_order="left")
        ctr["activity"] += acts.height
        w.csv("hubspot_activities", "activities", S.activities_landing(acts.filter(pl.col("t") < now)))
        truths["activities"].append(acts.filter(pl.col("t") < now))
        truths["scheduled_activities"].append(acts.filter(pl.col("t") >= now))
        truths["sla_triggers"].append(triggers)
        _say(progress, f"chunk {c + 1}/{len(bounds) - 1}: {ppl.height:,} people, {recs.height:,} contacts, "
                       f"{ev.height + nweb + npe:,} events ({time.perf_counter() - t_start:.1f}s)")

    # Hidden truth.
    for name, frames in truths.items():
        if not frames:  # a world too small to have a customer has no renewals
            frames = [pl.DataFrame(schema={"deal_id": pl.Int64, "account_id": pl.Int64, "renewal_at": pl.Int64,
                                           "at_risk": pl.Boolean})]
        df = pl.concat(frames, how="vertical_relaxed")
        if name == "leads":
            df = df.vstack(pl.DataFrame({"submission_id": ["sub-dirty-1"], "person_id": [None],
                                         "expected_status": ["quarantined"], "reason": ["invalid_timestamp"],
                                         "lead_kind": ["dirty"]}).cast(df.schema))
        df.write_parquet(truth_dir / f"{name}.parquet")
        w.files.append(f"truth/{name}.parquet")
    comp_truth.write_parquet(truth_dir / "companies.parquet")
    accounts.write_parquet(truth_dir / "accounts.parquet")
    pl.DataFrame(dirty, schema={"source": pl.String, "file": pl.String, "line": pl.Int64,
                                "reason": pl.String}).write_parquet(truth_dir / "dirty_rows.parquet")
    w.files += ["truth/companies.parquet", "truth/accounts.parquet", "truth/dirty_rows.parquet"]
    ctr["company"] = ID_BASE["company"] + comp_land.height
    state = {"seed": seed, "contacts": contacts, "people": ctr["person"] - 1, "accounts": n_acc,
             "clock": _iso(now), "clock_epoch": now, "hour": 0, "counters": ctr}
    (truth_dir / "world_state.json").write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    w.files.append("truth/world_state.json")
    secs = time.perf_counter() - t_start
    _say(progress, f"done: {sum(w.rows.get(s, 0) for s in SOURCES):,} rows in {len(w.files)} files, {secs:.1f}s")
    return WorldSummary(str(out), w.files, dict(w.rows), secs, ctr["person"] - 1, n_acc, _iso(now))


def generate_next_hours(out_dir: Path, hours: int = 1,
                        progress: Callable[[str], None] | None = None, crm_db: Path | str | None = None,
                        effects: Effects | None = None, activity: float = 1.0) -> WorldSummary:
    """Advance an existing world by `hours`, writing only new files (names carry the hour, e.g. `_h0001`).

    Per hour: new email/web/product events for a sample of existing people, a few new leads, some
    contacts updated (same Record ID, later Last Modified Date) and a few new contacts. Truth gets new
    part files (`<table>_hNNNN.parquet`); world_state.json moves the clock and id counters forward.

    The world answers (`sample_world/answers.py`): situations whose time has come resolve (meetings after follow-up
    triggers, renewals, rescheduled no-shows), at the rates hidden state gives them, raised or lowered by what the
    sync engine wrote to the sandbox CRM at `crm_db` (its SQLite file; none: no actions) since the last hour read.
    `effects`: the effect sizes (default `Effects()`). `activity` scales how many people are active each hour and how
    many leads come in (1.0: the world's usual rates; the closed-loop evaluation raises it so two weeks hold enough
    replies, demo requests and meetings to measure a lift).
    """
    if not 0 < activity <= 20:
        raise ValueError(f"activity must be above 0 and at most 20 (the usual rates times it), not {activity}")
    t_start = time.perf_counter()
    out = Path(out_dir)
    truth_dir = out / "truth"
    state = json.loads((truth_dir / "world_state.json").read_text())
    if state.get("mode") == "hard_cases":
        raise ValueError(f"{out} holds a hard-case export (a one-off file, no clock): next-hour mode needs the "
                         "default sample world")
    ctr = state["counters"]
    people = load_truth(out, "people")
    record_people = load_truth(out, "contacts").select("record_id", "person_id", "is_original")
    scheduled_path = truth_dir / "scheduled_activities.parquet"
    scheduled = pl.read_parquet(scheduled_path) if scheduled_path.exists() else pl.DataFrame()
    ctr.setdefault("activity", ID_BASE["activity"])
    accounts = pl.read_parquet(truth_dir / "accounts.parquet")
    company_rec = accounts.select("account_id", "company_record_id")
    files: list[str] = []
    rows: dict[str, int] = {}
    eff = effects or Effects()
    store = AN.open_store(crm_db) if crm_db else None
    renewal_rows = _renewal_deal_rows(out)
    try:
        for _ in range(hours):
            state, people, record_people, scheduled = _next_hour(
                out, state, people, record_people, scheduled, accounts, company_rec, files, rows, progress, eff, store,
                renewal_rows, activity)
    finally:
        if store is not None:
            store.close()
    secs = time.perf_counter() - t_start
    return WorldSummary(str(out), files, rows, secs, ctr["person"] - 1, accounts.height, state["clock"])


def _renewal_deal_rows(out: Path) -> pl.DataFrame:
    """The open renewal deals' export rows (ids from ID_BASE["renewal_deal"]), to write them again once resolved."""
    files = sorted((out / "landing" / "hubspot_deals").glob("deals_0*.csv"))
    if not files:
        return pl.DataFrame()
    lo, hi = ID_BASE["renewal_deal"], ID_BASE["meeting"] - 1
    frames = [pl.read_csv(f, infer_schema=False) for f in files]
    d = pl.concat(frames, how="vertical_relaxed")
    # Polars keeps a quoted header's doubled quotes (`Date entered ""Closed Won …""`): undo them, or the resolved
    # rows' stage dates would land in columns of their own and be dropped, and the header be quoted twice over.
    d = d.rename(lambda name: name.replace('""', '"'))
    return d.filter(pl.col("Record ID").cast(pl.Int64, strict=False).is_between(lo, hi))


def _next_hour(out, state, people, record_people, scheduled, accounts, company_rec, files, rows, progress, eff, store,
               renewal_rows, activity=1.0):
    """One hour of next-hour mode (see `generate_next_hours`); returns the moved state and people."""
    truth_dir = out / "truth"
    scheduled_path = truth_dir / "scheduled_activities.parquet"
    seed, ctr = state["seed"], state["counters"]
    hour = state["hour"] + 1
    t0 = state["clock_epoch"]
    t1 = t0 + HOUR
    tag = f"h{hour:04d}"
    rng = rng_for(seed, 10_000, hour)
    w = Writer(out, tag)
    n = people.height
    # Existing people active this hour (intent-weighted).
    k = min(n, max(10, int(round(n * 0.004 * activity))))
    pw = people["intent"].to_numpy() + 0.05
    act = people[np.sort(rng.choice(n, k, replace=False, p=pw / pw.sum()))]
    ev, replies, nmsg = A.email_events(rng, act, t0, t1, 0.4, ctr["event"], ctr["message"])
    ctr["event"] += ev.height
    ctr["message"] += nmsg
    w.jsonl("email_events", "email_events", [ev])
    w.jsonl("email_reply_labels", "reply_labels", [reply_labels(ev, replies, t1, seed)])
    # Web visits: every person at the rate their history ended with (not only this hour's active people, whose
    # intent weighting would draw several times that rate and drift the scores' web features day after day).
    frames, nweb = A.web_events(rng, people, t0, t1, activity * A.web_hour_scale(people, HISTORY_DAYS * DAY),
                                ctr["web"])
    ctr["web"] += nweb + frames[2].height
    w.jsonl("web_events", "web_events", frames)
    pev, npe = A.product_events(rng, act, accounts, t0, t1, 0.15, ctr["product"])
    ctr["product"] += npe
    w.jsonl("product_events", "product_events", [pev])

    # Updated contacts: promotions / title changes on existing records.
    nu = min(n, max(2, int(round(n * 0.0003))))
    upd = people[np.sort(rng.choice(n, nu, replace=False))]
    new_title = pl.Series([("Senior " + t) if not t.startswith("Senior ") else t.replace("Senior ", "Lead ")
                           for t in upd["job_title"].to_list()], dtype=pl.String)
    upd_truth = upd.select("record_id", "person_id", pl.lit("job_title").alias("field"),
                           pl.col("job_title").alias("old_value")).with_columns(new_value=new_title)
    upd = upd.with_columns(job_title=new_title, title_missing=pl.lit(False),
                           modified_at=pl.Series(rng.integers(t0, t1, nu), dtype=pl.Int64))
    # New contacts at existing accounts (a fifth of them duplicates of each other).
    nn = max(2, int(round(n * 0.0002)))
    acc_sel = accounts[np.sort(rng.choice(accounts.height, nn, replace=True))]
    new_p = E.make_people(rng, acc_sel, np.ones(nn, dtype=np.int64), ctr["person"], t1)
    ctr["person"] += new_p.height
    new_p = new_p.with_columns(identified=pl.Series(rng.random(nn) < 0.6),
                               created_at=pl.Series(rng.integers(t0, t1, nn), dtype=pl.Int64))
    recs, ctruth = E.contact_records(rng, new_p, ctr["contact"], company_rec, dup_ratio=0.2, now=t1)
    recs = recs.with_columns(created_at=pl.col("created_at").clip(t0, t1 - 1),
                             modified_at=pl.col("created_at").clip(t0, t1 - 1))
    ctr["contact"] += recs.height
    cl = pl.concat([E.contacts_landing(upd), E.contacts_landing(recs)], how="vertical")
    contacts_file = w.csv("hubspot_contacts", "contacts", cl)
    if store is not None and contacts_file is not None:
        # The hour's new contacts exist in the CRM the export came from: add them to the sandbox, so actions on them
        # can be synced (existing records stay as the sync left them). Their owners are the ones the world knows,
        # so reading them back is no owner change, no action.
        from crm_sandbox.seed import seed_files

        seed_files(store, {"contacts": [contacts_file]}, only_new=True)
    new_people = recs.filter(pl.col("is_original")).select(PEOPLE_COLS)
    # New people convert later, not retroactively in the past 30 days.
    new_people = new_people.with_columns(converted=pl.lit(False), converted_at=pl.lit(None, dtype=pl.Int64),
                                         has_opportunity=pl.lit(False), won=pl.lit(False))
    nl = max(3, int(round(n * 0.0003 * activity)))
    ll, ltruth = A.leads(rng, people, accounts, nl, t0, t1, ctr["submission"])
    ctr["submission"] += ll.height
    w.csv("leads", "leads", ll)

    # Reps' activity this hour: touches planned earlier that the clock reached, and new ones.
    record_people = pl.concat([record_people, ctruth.select("record_id", "person_id", "is_original")],
                              how="vertical_relaxed")
    people = pl.concat([people, new_people], how="diagonal_relaxed")
    rep_view = _records_with_owner(record_people, people)
    rng_s = rng_for(seed, 10_301, hour)
    triggers = S.follow_up_triggers(ev, replies, ll, ltruth, rep_view)
    acts = pl.concat([S.touches_for(rng_s, triggers, rep_view),
                      S.background_activity(rng_s, rep_view, t0, t1,
                                            BACKGROUND_ACTIVITY_RATE * HOUR / (HISTORY_DAYS * DAY))],
                     how="diagonal_relaxed")
    acts = S.number_activities(acts, ctr["activity"]).join(
        rep_view.select("record_id", "company_record_id"), on="record_id", how="left", maintain_order="left")
    ctr["activity"] += acts.height
    everything = pl.concat([scheduled, acts], how="diagonal_relaxed") if scheduled.height else acts
    due = everything.filter(pl.col("t") < t1).sort("t", "activity_id")
    scheduled = everything.filter(pl.col("t") >= t1)
    w.csv("hubspot_activities", "activities", S.activities_landing(due))

    for name, df in (("contacts", ctruth), ("people", new_people), ("leads", ltruth),
                     ("replies", replies), ("contact_updates", upd_truth), ("activities", due),
                     ("sla_triggers", triggers)):
        if df.height:
            df.write_parquet(truth_dir / f"{name}_{tag}.parquet")
            w.files.append(f"truth/{name}_{tag}.parquet")
    answered = _answer(out, w, seed, hour, t0, t1, ctr, people, record_people, company_rec, eff, store,
                       renewal_rows)
    scheduled.write_parquet(scheduled_path)
    state.update(hour=hour, clock_epoch=t1, clock=_iso(t1), people=ctr["person"] - 1, counters=ctr)
    (truth_dir / "world_state.json").write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    files += w.files
    for s, v in w.rows.items():
        rows[s] = rows.get(s, 0) + v
    _say(progress, f"hour {tag} ({_iso(t0)}): {sum(w.rows.values()):,} rows in {len(w.files)} files{answered}")
    return state, people, record_people, scheduled


def _answer(out, w, seed, hour, t0, t1, ctr, people, record_people, company_rec, eff, store, renewal_rows) -> str:
    """The answering world's part of an hour: read what was synced, resolve what is due, write it."""
    truth_dir = out / "truth"
    tag = f"h{hour:04d}"
    view = AN.load_view(out, people, record_people, eff)
    actions = pl.DataFrame(schema=AN.ACTION_SCHEMA)
    if store is not None:
        cursor = AN.Cursor.load(truth_dir)
        synced, moved = AN.read_synced(store, cursor)
        if synced:
            answered = set(view.effects_so_far["action_key"].to_list())
            actions = AN.evaluate(AN.recognise(synced, view, store.owner_names(), answered), view, eff, seed,
                                  hour, t0)
            moved.save(truth_dir)
        if actions.height:
            view.effects_so_far = pl.concat([view.effects_so_far, actions], how="vertical_relaxed")
    outcomes = AN.resolve(view, eff, seed, hour, t0, t1)
    rng = rng_for(seed, AN.ANSWER_STREAM, hour)
    held = outcomes.filter(pl.col("outcome") & pl.col("situation_kind").is_in(["follow_up_trigger", "no_show"]))
    mland, mtruth = AN.meetings_landing(rng, held, view, company_rec, eff, t0, t1, ctr["meeting"])
    ctr["meeting"] += mtruth.height
    w.csv("hubspot_meetings", "meetings", mland)
    w.csv("hubspot_deals", "deals",
          AN.renewals_landing(outcomes.filter(pl.col("situation_kind") == "renewal"), renewal_rows))
    ev, rtruth, nmsg = AN.sequence_events(
        rng, outcomes.filter(pl.col("situation_kind") == "sequence"), view, t0, t1, ctr["event"], ctr["message"])
    ctr["event"] += ev.height
    ctr["message"] += nmsg
    w.jsonl("email_events", "email_events", [ev])
    for name, df in (("action_effects", actions), ("situation_outcomes", outcomes), ("answer_meetings", mtruth),
                     ("replies", rtruth)):
        if df.height:
            path = truth_dir / f"{name}_{tag}.parquet"
            if name == "replies" and path.exists():  # this hour's replies from the regular sends come first
                df = pl.concat([pl.read_parquet(path), df], how="diagonal_relaxed")
            df.write_parquet(path)
            if f"truth/{name}_{tag}.parquet" not in w.files:
                w.files.append(f"truth/{name}_{tag}.parquet")
    if not actions.height and not outcomes.height:
        return ""
    return (f"; answered {actions.height} synced action(s), resolved {outcomes.height} situation(s) "
            f"({int(outcomes['outcome'].sum())} came true)")


__all__ = ["WorldSummary", "generate_world", "generate_next_hours", "load_truth"]
