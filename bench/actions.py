"""Planner benchmark: plan the decision queue for 1M golden contacts (`make bench-actions`).

The candidate marts are synthesised (in a separate process, written as Parquet files) at the shape and rates the
sample world has (2% of contacts without an owner, 2% with one from another territory, ~8 replies per 100 contacts
over half a year, a suppression signal for 3% of contacts, merge and enrichment reviews). The measured process
does what the planner asset does after its warehouse queries: read the candidate tables, read the store, run every
workflow and the policy, write suppression entries and actions to a SQLite operational store; its time and peak
memory are the figures. The warehouse SQL that fills the marts is timed by `make bench` with the rest of the
refresh. Ends with one line: `bench-actions contacts=... seconds=... actions=... peak_rss_mb=...`.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from actions.inputs import (
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
from actions.planner import StoreView, apply_plan, plan
from actions.policy import load_policy
from ops_store import open_store
from ops_store.schema import utc_now

AS_OF = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
REPLY_CLASSES = ["positive", "objection", "not_now", "unsubscribe", "wrong_person_referral", "compliance_threat"]
REPLY_WEIGHTS = [0.2, 0.25, 0.3, 0.15, 0.08, 0.02]


def synthetic_inputs(contacts: int, seed: int = 1) -> PlanningInputs:
    """Planner inputs for `contacts` golden contacts (deterministic per seed)."""
    rng = np.random.default_rng(seed)
    policy = load_policy()
    countries = sorted(policy.territories_of_country())
    team = {
        c: [o for t in policy.territories_of_country()[c] for o in policy.routing.territories[t].owners]
        for c in countries
    }
    all_owners = sorted(policy.territory_of_owner())
    n = contacts
    country = np.array(countries)[rng.integers(0, len(countries), n)]
    owner = np.array([team[c][i % len(team[c])] for i, c in enumerate(country)], dtype=object)
    issue = rng.random(n)
    owner = np.where(
        issue < 0.02, None, np.where(issue < 0.04, np.array(all_owners)[rng.integers(0, len(all_owners), n)], owner)
    )
    ids = np.arange(1, n + 1)
    golden = [f"gc-{i}" for i in ids]
    emails = [f"p{i}@acme{i // 7}.com" for i in ids]
    contacts_frame = pl.DataFrame(
        {
            "golden_contact_id": golden,
            "contact_name": [f"Person {i}" for i in ids],
            "first_name": "Person",
            "email": emails,
            "emails": [[e] for e in emails],
            "crm_record_ids": [[int(i)] for i in ids],
            "contact_owner": owner.tolist(),
            "country_code": country.tolist(),
            "lifecycle_stage": "lead",
            "company_name": [f"Acme {i // 7}" for i in ids],
            "golden_account_id": [f"ga-{i // 7}" for i in ids],
            "account_domain": [f"acme{i // 7}.com" for i in ids],
            "industry": "Software",
            "is_crm_unsubscribed": rng.random(n) < 0.01,
            "is_customer_account": rng.random(n) < 0.1,
            "open_deal_count": (rng.random(n) < 0.05).astype(np.int64),
            "tier": rng.choice([1, 2, 3], n, p=[0.06, 0.13, 0.81]),
            "combined_score": rng.random(n) * 100,
            "score_model_version": "v0001-learned",
            "is_junk": False,
        },
        schema=CONTACT_SCHEMA,
    )
    n_replies = n * 8 // 100
    who = rng.integers(0, n, n_replies)
    replied = [AS_OF - timedelta(seconds=int(s)) for s in rng.integers(0, 180 * 86_400, n_replies)]
    classes = np.array(REPLY_CLASSES)[rng.choice(len(REPLY_CLASSES), n_replies, p=REPLY_WEIGHTS)]
    event_ids = [f"e-{i}" for i in range(n_replies)]
    replies = pl.DataFrame(
        {
            "event_id": event_ids,
            "golden_contact_id": [golden[w] for w in who],
            "replied_at": replied,
            "predicted_class": classes.tolist(),
            "confidence": rng.uniform(0.5, 1.0, n_replies),
            "needs_human": False,
            "rule_hit": False,
            "model_version": "reply-bench",
        },
        schema=REPLY_SCHEMA,
    )
    touched = rng.random(n_replies) < 0.8
    triggers = pl.DataFrame(
        {
            "trigger_kind": "reply",
            "trigger_id": event_ids,
            "golden_contact_id": [golden[w] for w in who],
            "contact_record_id": (who + 1).tolist(),
            "contact_owner": [owner[w] for w in who],
            "triggered_at": replied,
            "reply_text": np.where(
                classes == "wrong_person_referral", "Please talk to Maria Lopez instead.", "Thanks"
            ).tolist(),
            "first_touch_at": [
                t + timedelta(hours=float(h)) if ok else None
                for t, h, ok in zip(replied, rng.exponential(6, n_replies), touched, strict=True)
            ],
            "first_touch_id": None,
            "first_touch_kind": None,
            "first_touch_by": None,
        },
        schema=TRIGGER_SCHEMA,
    )
    flagged = rng.choice(n, n * 3 // 100, replace=False)
    signals = pl.DataFrame(
        {
            "kind": "email",
            "value": [emails[i] for i in flagged],
            "reason": np.array(["unsubscribe", "hard_bounce", "spam_report"])[
                rng.integers(0, 3, len(flagged))
            ].tolist(),
            "scope": "all",
            "source_table": "staging.stg_email__events",
            "source_key": [f"s-{i}" for i in flagged],
            "source_field": "event_type",
            "source_value": "unsubscribe",
            "observed_at": AS_OF - timedelta(days=3),
        },
        schema=SIGNAL_SCHEMA,
    )
    n_leads = n // 200
    leads = pl.DataFrame(
        {
            "submission_id": [f"sub-{i}" for i in range(n_leads)],
            "submitted_at": [AS_OF - timedelta(hours=int(h)) for h in rng.integers(0, 30 * 24, n_leads)],
            "lead_source": np.array(["demo_request", "form", "webinar", "chat"])[rng.integers(0, 4, n_leads)].tolist(),
            "lead_name": "New Lead",
            "email": [f"lead{i}@newco{i}.com" for i in range(n_leads)],
            "company_name": "Newco",
            "company_domain": [f"newco{i}.com" for i in range(n_leads)],
            "country_code": np.array(countries)[rng.integers(0, len(countries), n_leads)].tolist(),
            "industry": "Software",
        },
        schema=LEAD_SCHEMA,
    )
    load = pl.DataFrame(
        {
            "owner": all_owners,
            "open_deals": rng.integers(0, 50, len(all_owners)),
            "owned_contacts": n // len(all_owners),
        },
        schema=LOAD_SCHEMA,
    )
    n_merges = n // 100
    left = rng.integers(0, n - 1, n_merges)
    merges = pl.DataFrame(
        {
            "proposal_id": [f"m-{i}" for i in range(n_merges)],
            "left_record_id": (left + 1).tolist(),
            "right_record_id": (left + 2).tolist(),
            "left_golden_contact_id": [golden[i] for i in left],
            "right_golden_contact_id": [golden[i + 1] for i in left],
            "reason": "review_band",
            "match_probability": rng.uniform(0.5, 0.999, n_merges),
            "evidence": '{"email": {"level": "exact", "weight": 5, "left": "a", "right": "a"}}',
            "rank_value": rng.random(n_merges),
        },
        schema=MERGE_SCHEMA,
    )
    n_enrich = n * 3 // 10
    enrichment = pl.DataFrame(
        {
            "enrichment_field_id": [f"f-{i}" for i in range(n_enrich)],
            "golden_contact_id": [golden[i] for i in rng.integers(0, n, n_enrich)],
            "field_name": "job_title",
            "proposed_value": "VP Sales",
            "vendor": "vendor_a",
            "confidence": rng.random(n_enrich),
            "observed_at": AS_OF,
            "reason": "review_low_confidence",
        },
        schema=ENRICHMENT_SCHEMA,
    )
    return PlanningInputs(
        as_of=AS_OF,
        contacts=contacts_frame,
        suppression_signals=signals,
        triggers=triggers,
        replies=replies,
        inbound_leads=leads,
        owner_load=load,
        merge_proposals=merges,
        enrichment_reviews=enrichment,
    )


TABLES = (
    "contacts", "suppression_signals", "triggers", "replies", "inbound_leads", "owner_load", "merge_proposals",
    "enrichment_reviews",
)


def write_inputs(contacts: int, folder: Path) -> None:
    """Synthesise the inputs and write one Parquet file per candidate table."""
    inputs = synthetic_inputs(contacts)
    for name in TABLES:
        getattr(inputs, name).write_parquet(folder / f"{name}.parquet")


def read_inputs(folder: Path) -> PlanningInputs:
    """The candidate tables back from Parquet, as the planner asset gets them from the warehouse."""
    return PlanningInputs(as_of=AS_OF, **{name: pl.read_parquet(folder / f"{name}.parquet") for name in TABLES})


def main(argv: list[str] | None = None) -> int:
    """Synthesise (another process), then read, plan into a fresh store and print the summary line."""
    parser = argparse.ArgumentParser(prog="python -m bench.actions", description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--write-inputs", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write_inputs:
        write_inputs(args.contacts, args.write_inputs)
        return 0
    policy = load_policy()
    with tempfile.TemporaryDirectory(prefix="bench-actions-") as scratch:
        folder = Path(scratch)
        print(f"[bench-actions] synthesising planner inputs for {args.contacts:,} golden contacts ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "bench.actions", "--contacts", str(args.contacts), "--write-inputs", str(folder)],
            check=True,
        )
        engine = open_store(f"sqlite:///{folder / 'operations.sqlite'}")
        started = time.perf_counter()
        inputs = read_inputs(folder)
        now = utc_now()
        result = plan(inputs, policy, StoreView.read(engine, policy, now), now=now, run_id="bench")
        planned = time.perf_counter() - started
        written = apply_plan(result, engine, policy)
        seconds = time.perf_counter() - started
        engine.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = result.summary()
    print(
        f"[bench-actions] planned in {planned:.1f} s, written in {seconds - planned:.1f} s; "
        f"new by workflow: {summary['new_by_workflow']}; blocked: {summary['blocked_by_rule']}",
        flush=True,
    )
    print(
        f"bench-actions contacts={args.contacts} seconds={seconds:.1f} actions={written['actions_added']} "
        f"suppression_entries={written['suppression_entries_added']} peak_rss_mb={peak_mb:.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
