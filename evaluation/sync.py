"""`make eval-sync`: the sync engine's promises at scale, measured against the sandbox CRM on loopback.

Four parts, each on its own sandbox and operational store in a temporary folder:
1. faults: 20,000 approved actions and 100,000 score-field updates synced by `actionhouse sync run` processes
   while the sandbox injects 5xx, timeouts, 207 partial failures, 423 locks and a 429 storm (the client is allowed
   more than the CRM accepts); the process is killed with SIGKILL at random moments and restarted; 1% of the
   approved contacts unsubscribe after approval; a few actions are invalid (an owner who is not a CRM user, a merge
   with a record that does not exist) and must be dead-lettered with the CRM's reason.
2. kill switch: a person turns it on while a sync runs; nothing may be sent after it.
3. throughput: the same mix with no faults, against HubSpot's standard limit (100 requests per 10 s):
   `fraction_of_bound` = requests the CRM served / the most its rolling window allows in that time.
4. field diff: a million golden contacts whose scores the CRM already confirmed, 1% of them changed: the rows
   sent (through an in-process connector that records what it is asked to write).

Prints one line: `eval-sync approved=… in_crm_exactly_once=… duplicates_in_crm=0 lost=0 dead_lettered=…
blocked_last_mile=… sent_after_unsubscribe=0 sent_after_kill_switch=0 sent_without_approval=0 kill9_restarts=…
fraction_of_bound=… field_diff_contacts=… field_diff_changed=… field_diff_sent=…` (goals: every zero zero,
in_crm_exactly_once = approved − dead_lettered − blocked_last_mile, fraction_of_bound ≥ 0.9).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import sqlalchemy as sa

from actions.catalog import Workflow
from actions.kill_switch import KillSwitch
from actions.policy import load_policy
from actions.queue import DecisionQueue
from actions.states import State
from actions.suppression import SuppressionEntry, SuppressionList
from crm_sandbox.config import SandboxConfig
from crm_sandbox.server import start_sandbox
from crm_sandbox.store import SandboxStore
from evaluation.sync_world import proposal, queue_approved, seed_sandbox
from ops_store import open_store
from ops_store.schema import sync_outbox, utc_now
from reverse_etl.crm.base import OutcomeStatus, RowOutcome
from reverse_etl.crm.hubspot import HubSpotClient
from reverse_etl.sync import SyncEngine
from reverse_etl.sync import fields as F
from reverse_etl.sync.audit import sent_without_approval
from reverse_etl.sync.writers import HubSpotWriter

TOKEN = "eval-sync-token"
CONNECTION = "hubspot@eval"
NOBODY = "Nobody Here"  # an owner who is not a user of the CRM: the CRM cannot take the change
MISSING_RECORD = "999999999"
FOLLOW_UP = "2027-01-15"
# HubSpot's standard private-app limit: 100 requests per rolling 10 seconds.
HUBSPOT_LIMIT, HUBSPOT_WINDOW = 100, 10.0


def _say(message: str) -> None:
    print(f"[eval-sync] {message}", file=sys.stderr, flush=True)


# ---- the world --------------------------------------------------------------------------------------------------
def eval_proposals(records: Sequence[str], merge_pool: Sequence[str], seed: int, start: int = 0) -> list:
    """A realistic mix per 100 actions: 30 tasks, 5 reply escalations, 10 notes, 25 follow-up dates, 25 owner
    changes, 3 unsubscribes, 2 merges; 1 in 200 owner changes names someone who is not a CRM user and 1 in 4
    merges points at a record that does not exist (both must be dead-lettered with the reason)."""
    rng = random.Random(seed)
    out, merges = [], iter(merge_pool)
    for n, record in enumerate(records):
        i = start + n
        roll = rng.random() * 100
        if roll < 30:
            out.append(proposal("create_task", record, i, {"subject": f"Call {i}", "due_at": "2026-12-10T10:00:00Z"}))
        elif roll < 35:
            out.append(proposal("escalate_reply", record, i, {"assignee": "revops", "notes": "legal question"}))
        elif roll < 45:
            out.append(proposal("add_note", record, i, {"body": f"Why {i}: the account's usage doubled"}))
        elif roll < 70:
            out.append(proposal("set_follow_up_date", record, i, {"follow_up_date": FOLLOW_UP}))
        elif roll < 95:
            owner = NOBODY if rng.random() < 0.02 else "Marta Schulz"
            out.append(proposal("assign_owner", record, i, {"new_owner": owner}, Workflow.LEAD_ROUTING))
        elif roll < 98:
            out.append(proposal("crm_unsubscribe", record, i, {"subscription": "all_email"}, Workflow.SUPPRESSION))
        else:
            merged = MISSING_RECORD if rng.random() < 0.25 else next(merges)
            payload = {"primary_record_id": record, "merged_record_id": merged}
            out.append(proposal("merge_contacts", record, i, payload, Workflow.MERGES))
    return out


def desired_scores(records: Sequence[str], seed: int) -> pl.DataFrame:
    """Score fields per record, as the warehouse would publish them (text, like CRM properties)."""
    rng = np.random.default_rng(seed)
    n = len(records)
    fit, intent = rng.random(n).round(4), rng.random(n).round(4)
    combined = (0.6 * fit + 0.4 * intent).round(4)
    return pl.DataFrame(
        {
            "record_id": list(records),
            "actionhouse_fit_score": fit.astype(str),
            "actionhouse_intent_score": intent.astype(str),
            "actionhouse_combined_score": combined.astype(str),
            "actionhouse_tier": np.where(combined > 0.7, "1", np.where(combined > 0.4, "2", "3")),
            "actionhouse_reasons": ["Engagement: visited pricing twice"] * n,
            "actionhouse_model_version": ["lead-eval-1"] * n,
        }
    )


def write_warehouse(path: Path, desired: pl.DataFrame) -> None:
    """The two tables the field sync reads (`ml.lead_scores`, `marts.contact_crosswalk`), one golden contact per
    record, so the CLI's sync run reads the scores as it would in production."""
    with duckdb.connect(str(path)) as con:
        con.register("desired", desired.to_arrow())
        con.execute("create schema if not exists ml; create schema if not exists marts").fetchall()
        con.execute(
            "create or replace table marts.contact_crosswalk as select 'g' || record_id as golden_contact_id, "
            "record_id as source_record_id, true as is_anchor_record from desired"
        ).fetchall()
        con.execute(
            "create or replace table ml.lead_scores as select 'g' || record_id as contact_id, "
            "cast(actionhouse_fit_score as double) as fit_score, cast(actionhouse_intent_score as double) as "
            "intent_score, cast(actionhouse_combined_score as double) as combined_score, "
            "cast(actionhouse_tier as integer) as tier, [actionhouse_reasons] as reasons, "
            "actionhouse_model_version as model_version from desired"
        ).fetchall()


# ---- what is in the CRM -----------------------------------------------------------------------------------------
class CrmView:
    """Read-only look at the sandbox's SQLite file (what the CRM holds), for checking effects."""

    def __init__(self, db_path: Path) -> None:
        self.con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)

    def engagements_by_key(self) -> Counter:
        rows = self.con.execute(
            "select json_extract(properties, '$.actionhouse_id') from objects "
            "where object_type in ('tasks', 'notes') and archived = 0"
        )
        return Counter(key for (key,) in rows if key)

    def contact(self, record_id: str) -> tuple[dict, int, int | None]:
        row = self.con.execute(
            "select properties, archived, merged_into from objects where object_type = 'contacts' and id = ?",
            (int(record_id),),
        ).fetchone()
        return (json.loads(row[0]), row[1], row[2]) if row else ({}, 0, None)

    def owner_id(self, first: str, last: str) -> str:
        row = self.con.execute("select id from owners where first_name = ? and last_name = ?", (first, last))
        return str(row.fetchone()[0])

    def score_values(self) -> dict[str, dict]:
        rows = self.con.execute(
            "select id, properties from objects where object_type = 'contacts' and archived = 0 "
            "and json_extract(properties, '$.actionhouse_tier') is not null"
        )
        return {str(i): json.loads(p) for i, p in rows}


def effect_count(action, crm: CrmView, engagements: Counter, marta: str) -> int:
    """How many times the action's effect is in the CRM (0: absent, 1: exactly once, more: duplicated)."""
    kind = action.action_type
    if kind in ("create_task", "escalate_reply", "add_note"):
        return engagements.get(action.action_id, 0)
    record = action.target_crm_ids[0]["record_id"]
    properties, archived, merged_into = crm.contact(record)
    if kind == "set_follow_up_date":
        return int(properties.get("actionhouse_follow_up_date") == FOLLOW_UP)
    if kind == "assign_owner":
        return int(properties.get("hubspot_owner_id") == marta)
    if kind == "crm_unsubscribe":
        return int(properties.get("hs_email_optout") == "true")
    if kind == "merge_contacts":
        merged = action.effective_payload["merged_record_id"]
        _, merged_archived, into = crm.contact(merged)
        return int(bool(merged_archived) and str(into) == str(record))
    raise ValueError(kind)


# ---- part 1: faults and kill -9 ---------------------------------------------------------------------------------
def _run_cli(env: Mapping[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "sync", "run"],
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _time_passes(ops: sa.Engine) -> None:
    """Retry backoffs are minutes long; the eval does not wait them out."""
    with ops.begin() as con:
        con.execute(
            sa.update(sync_outbox).where(sync_outbox.c.state == "retryable").values(next_attempt_at=utc_now())
        )


def _pending(ops: sa.Engine, desired: pl.DataFrame) -> int:
    with ops.connect() as con:
        outbox = con.execute(
            sa.select(sa.func.count()).where(sync_outbox.c.state.in_(["queued", "retryable", "in_flight"]))
        ).scalar_one()
    waiting = DecisionQueue(ops, load_policy()).counts(by=("state",))
    approved = sum(c["actions"] for c in waiting if c["state"] in ("approved", "queued"))
    changed, _ = F.changed_rows(ops, CONNECTION, "contacts", desired)
    return outbox + approved + len([c for c in changed if c.to_write()])


def faults_part(root: Path, actions: int, field_rows: int, kills: int, seed: int) -> dict[str, Any]:
    policy = load_policy()
    config = SandboxConfig(
        db_path=root / "crm.sqlite",
        tokens=(TOKEN,),
        rate_limit=3000,
        rate_window_s=10.0,
        search_rate_limit=100,
        fault_5xx_rate=0.03,
        fault_partial_rate=0.03,
        fault_locked_rate=0.02,
        fault_slow_rate=0.01,
        slow_seconds=0.5,
        fault_seed=seed,
    )
    merges_needed = actions // 40 + 10
    store = SandboxStore(config.db_path, config.unique_properties)
    records = seed_sandbox(store, max(actions, field_rows) + merges_needed)
    store.close()
    merge_pool, records = records[-merges_needed:], records[:-merges_needed]
    ops = open_store(f"sqlite:///{root / 'ops.sqlite'}")
    _say(f"part 1: queueing {actions:,} approved actions ...")
    ids = queue_approved(ops, policy, eval_proposals(records[:actions], merge_pool, seed))
    queue = DecisionQueue(ops, policy)
    # 1% of the contacts actions reach unsubscribe after their action was approved.
    rng = random.Random(seed)
    reaching = [i for i in ids if queue.get(i).action_type in ("create_task", "set_follow_up_date", "assign_owner")]
    late = set(rng.sample(reaching, max(1, len(reaching) // 100)))
    SuppressionList(ops).add_many(
        [SuppressionEntry("email", queue.get(i).target_emails[0], "unsubscribe", "eval: after approval") for i in late],
        added_by="eval",
    )
    desired = desired_scores(records[:field_rows], seed)
    write_warehouse(root / "warehouse.duckdb", desired)
    server, app = start_sandbox(config)
    env = {
        **os.environ,
        "ACTIONHOUSE_OPS_DB": str(ops.url),
        "ACTIONHOUSE_CRM_BASE_URL": server.url,
        "ACTIONHOUSE_CRM_TOKEN": TOKEN,
        "ACTIONHOUSE_CRM_NAME": CONNECTION,
        # More than the CRM accepts (3000 per 10 s): bursts meet 429s with Retry-After, a storm to ride out.
        "ACTIONHOUSE_CRM_RATE_LIMIT": "4000",
        "ACTIONHOUSE_DATA_DIR": str(root),
        "ACTIONHOUSE_WAREHOUSE": str(root / "warehouse.duckdb"),
    }
    killed = 0
    started = time.perf_counter()
    try:
        for attempt in range(kills):
            _time_passes(ops)
            worker = _run_cli(env)
            time.sleep(rng.uniform(3.0, 10.0))  # the process needs ~2 s to start; kill it at work
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                killed += 1
                _say(f"part 1: killed the sync process with SIGKILL ({killed}) after attempt {attempt + 1}")
            worker.wait()
        for finishing in range(30):
            _time_passes(ops)
            worker = _run_cli(env)
            worker.wait(timeout=1800)
            left = _pending(ops, desired)
            _say(f"part 1: run {finishing + 1} to finish: exit {worker.returncode}, {left:,} rows still to send")
            if left == 0:
                break
        seconds = time.perf_counter() - started
        stats = dict(app.state.stats)
    finally:
        server.stop()
    crm = CrmView(config.db_path)
    engagements = crm.engagements_by_key()
    marta = crm.owner_id("Marta", "Schulz")
    states = Counter()
    exactly_once = duplicates = lost = sent_after_unsubscribe = 0
    for action_id in ids:
        action = queue.get(action_id)
        states[action.state.value] += 1
        times = effect_count(action, crm, engagements, marta)
        if action_id in late:
            sent_after_unsubscribe += times
            continue
        if action.state == State.SENT:
            exactly_once += times == 1
            duplicates += max(times - 1, 0)
            lost += times == 0
        elif action.state != State.DEAD_LETTERED:
            lost += 1
    approved = set(ids)
    strangers = sum(n for key, n in engagements.items() if key not in approved)
    blocked = states.get("withdrawn", 0)
    in_crm = crm.score_values()
    mismatched = sum(
        1
        for row in desired.iter_rows(named=True)
        if any(in_crm.get(row["record_id"], {}).get(k) != v for k, v in row.items() if k != "record_id")
    )
    with ops.connect() as con:
        outbox = Counter(dict(con.execute(sa.text("select state, count(*) from sync_outbox group by state")).all()))
    invalid = sum(
        1
        for i in ids
        if queue.get(i).effective_payload.get("new_owner") == NOBODY
        or queue.get(i).effective_payload.get("merged_record_id") == MISSING_RECORD
    )
    reasons = Counter(
        re.sub(r"\d+", "N", queue.get(i).state_reason or "")[:90]
        for i in ids
        if queue.get(i).state == State.DEAD_LETTERED
    )
    _say(f"part 1: invalid actions made on purpose: {invalid}; dead-letter reasons: {dict(reasons)}")
    return {
        "approved": len(ids),
        "in_crm_exactly_once": exactly_once,
        "duplicates_in_crm": duplicates,
        "lost": lost,
        "dead_lettered": states.get("dead_lettered", 0),
        "invalid_on_purpose": invalid,
        "blocked_last_mile": blocked,
        "late_unsubscribes": len(late),
        "sent_after_unsubscribe": sent_after_unsubscribe,
        "sent_without_approval": len(sent_without_approval(ops)) + strangers,
        "kill9_restarts": killed,
        "fields": field_rows,
        "fields_mismatched": mismatched,
        "outbox": dict(outbox),
        "faults_seconds": round(seconds, 1),
        "crm_stats": stats,
    }


# ---- part 2: kill switch ----------------------------------------------------------------------------------------
class _FlipAfter:
    """A writer that turns the kill switch on (as a person would) once `after` batches have been sent, and
    counts the rows it is asked to send from then on (must stay 0)."""

    def __init__(self, writer: HubSpotWriter, ops: sa.Engine, after: int) -> None:
        self.writer, self.ops, self.after = writer, ops, after
        self.connection = writer.connection
        self.batches = 0
        self.sent_after_switch = 0
        self.switched = False

    def __getattr__(self, name):
        return getattr(self.writer, name)

    def send(self, kind, requests):
        if self.switched:
            self.sent_after_switch += len(requests)
        outcomes = self.writer.send(kind, requests)
        self.batches += 1
        if self.batches == self.after and not self.switched:
            KillSwitch(self.ops).set(True, actor="eval", reason="a person stops every send mid-run")
            self.switched = True
        return outcomes


def kill_switch_part(root: Path, actions: int, seed: int) -> dict[str, Any]:
    policy = load_policy()
    config = SandboxConfig(db_path=root / "crm_ks.sqlite", tokens=(TOKEN,), rate_limit=5000, search_rate_limit=100)
    store = SandboxStore(config.db_path, config.unique_properties)
    records = seed_sandbox(store, actions)
    store.close()
    ops = open_store(f"sqlite:///{root / 'ops_ks.sqlite'}")
    tasks = [proposal("create_task", r, i, {"subject": f"Call {i}"}) for i, r in enumerate(records)]
    ids = queue_approved(ops, policy, tasks)
    server, _ = start_sandbox(config)
    try:
        with HubSpotClient(server.url, TOKEN, rate_limit=5000) as client:
            writer = _FlipAfter(HubSpotWriter(client, CONNECTION), ops, after=5)
            first = SyncEngine(ops, writer, policy).run()
            KillSwitch(ops).set(False, actor="eval", reason="resume")
            second = SyncEngine(ops, HubSpotWriter(client, CONNECTION), policy).run()
    finally:
        server.stop()
    engagements = CrmView(config.db_path).engagements_by_key()
    return {
        "kill_switch_actions": len(ids),
        "sent_before_switch": first.actions_sent,
        "stopped_by_kill_switch": first.stopped_by_kill_switch,
        "sent_after_kill_switch": writer.sent_after_switch,
        "kill_switch_exactly_once": sum(engagements.get(i, 0) == 1 for i in ids),
        "sent_after_resume": second.actions_sent,
    }


# ---- part 3: throughput -----------------------------------------------------------------------------------------
def throughput_part(root: Path, actions: int, field_rows: int, seed: int) -> dict[str, Any]:
    policy = load_policy()
    config = SandboxConfig(
        db_path=root / "crm_tp.sqlite",
        tokens=(TOKEN,),
        rate_limit=HUBSPOT_LIMIT,
        rate_window_s=HUBSPOT_WINDOW,
        search_rate_limit=100,
    )
    store = SandboxStore(config.db_path, config.unique_properties)
    pool = actions // 40 + 10
    records = seed_sandbox(store, max(actions, field_rows) + pool)
    store.close()
    ops = open_store(f"sqlite:///{root / 'ops_tp.sqlite'}")
    proposals = [
        p
        for p in eval_proposals(records[:actions], records[-pool:], seed + 1)
        if p.payload.get("new_owner") != NOBODY and p.payload.get("merged_record_id") != MISSING_RECORD
    ]
    queue_approved(ops, policy, proposals)
    desired = desired_scores(records[:field_rows], seed + 1)
    server, app = start_sandbox(config)
    try:
        with HubSpotClient(server.url, TOKEN, rate_limit=HUBSPOT_LIMIT, rate_window_s=HUBSPOT_WINDOW) as client:
            before = app.state.stats["admitted"]
            started = time.perf_counter()
            report = SyncEngine(ops, HubSpotWriter(client, CONNECTION), policy).run(desired_fields=desired)
            seconds = time.perf_counter() - started
            served = app.state.stats["admitted"] - before
            refused = app.state.stats["rate_limited"]
    finally:
        server.stop()
    # The bound is the CRM's sustained rate, L requests per W seconds (its one-off burst allowance aside).
    bound = HUBSPOT_LIMIT / HUBSPOT_WINDOW * seconds
    return {
        "fraction_of_bound": round(served / bound, 3),
        "throughput_requests": served,
        "throughput_seconds": round(seconds, 1),
        "throughput_rows": report.actions_sent + report.fields_sent,
        "throughput_429": refused,
    }


# ---- part 4: a million contacts, 1% changed --------------------------------------------------------------------
class _RecordingWriter:
    """An in-process CRM connector that accepts every field write and counts them (no network, no CRM)."""

    connection = CONNECTION

    def __init__(self) -> None:
        self.rows_written = 0

    def prepare(self) -> None:
        return None

    def batch_limit(self, kind: str) -> int:
        return 100

    def write_fields(self, object_type: str, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> list[RowOutcome]:
        self.rows_written += len(rows)
        return [RowOutcome(record_id, OutcomeStatus.OK, record_id) for record_id, _ in rows]

    def read_fields(self, object_type: str, record_ids: Sequence[str], fields: Sequence[str]) -> dict[str, dict]:
        return {}  # nobody edited these records in the CRM


def field_diff_part(root: Path, contacts: int, changed_share: float, seed: int) -> dict[str, Any]:
    ops = open_store(f"sqlite:///{root / 'ops_diff.sqlite'}")
    records = [str(100_000_000 + i) for i in range(contacts)]
    desired = desired_scores(records, seed)
    _say(f"part 4: the CRM confirmed scores for {contacts:,} contacts (the last sync) ...")
    changes, _ = F.changed_rows(ops, CONNECTION, "contacts", desired)
    for start in range(0, len(changes), 50_000):
        F.confirm(ops, CONNECTION, "contacts", changes[start : start + 50_000])
    rng = np.random.default_rng(seed)
    moved = rng.choice(contacts, size=int(contacts * changed_share), replace=False)
    flags = np.zeros(contacts, dtype=bool)
    flags[moved] = True
    today = desired.with_columns(
        pl.when(pl.Series(flags))
        .then(pl.lit("lead-eval-2"))
        .otherwise(pl.col("actionhouse_model_version"))
        .alias("actionhouse_model_version")
    )
    writer = _RecordingWriter()
    started = time.perf_counter()
    report = SyncEngine(ops, writer, load_policy()).run(desired_fields=today, send_actions=False)
    return {
        "field_diff_contacts": contacts,
        "field_diff_changed": int(flags.sum()),
        "field_diff_sent": writer.rows_written,
        "field_diff_unchanged": report.fields_unchanged,
        "field_diff_seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the four parts and print the `eval-sync` line."""
    parser = argparse.ArgumentParser(prog="python -m evaluation.sync", description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=20_000)
    parser.add_argument("--fields", type=int, default=100_000)
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--diff-contacts", type=int, default=1_000_000)
    parser.add_argument("--throughput-actions", type=int, default=1_500)
    parser.add_argument("--throughput-fields", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=23)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="eval_sync_") as tmp:
        root = Path(tmp)
        _say(f"part 1: {args.actions:,} approved actions and {args.fields:,} field updates, with faults and kill -9")
        faults = faults_part(root, args.actions, args.fields, args.kills, args.seed)
        _say(f"part 1 done: {faults['outbox']}, {faults['faults_seconds']} s")
        _say("part 2: the kill switch turned on mid-run")
        switch = kill_switch_part(root, 2_000, args.seed)
        _say(f"part 2 done: {switch}")
        _say(f"part 3: throughput against HubSpot's limit ({HUBSPOT_LIMIT} requests / {HUBSPOT_WINDOW:.0f} s)")
        throughput = throughput_part(root, args.throughput_actions, args.throughput_fields, args.seed)
        _say(f"part 3 done: {throughput}")
        diff = field_diff_part(root, args.diff_contacts, 0.01, args.seed)
    line = {
        "approved": faults["approved"],
        "in_crm_exactly_once": faults["in_crm_exactly_once"],
        "duplicates_in_crm": faults["duplicates_in_crm"],
        "lost": faults["lost"],
        "dead_lettered": faults["dead_lettered"],
        "blocked_last_mile": faults["blocked_last_mile"],
        "sent_after_unsubscribe": faults["sent_after_unsubscribe"],
        "sent_after_kill_switch": switch["sent_after_kill_switch"],
        "sent_without_approval": faults["sent_without_approval"],
        "kill9_restarts": faults["kill9_restarts"],
        "fraction_of_bound": throughput["fraction_of_bound"],
        "fields": faults["fields"],
        "fields_mismatched": faults["fields_mismatched"],
        "field_diff_contacts": diff["field_diff_contacts"],
        "field_diff_changed": diff["field_diff_changed"],
        "field_diff_sent": diff["field_diff_sent"],
        "field_diff_seconds": diff["field_diff_seconds"],
        "faults_seconds": faults["faults_seconds"],
    }
    print("eval-sync " + " ".join(f"{k}={v}" for k, v in line.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
