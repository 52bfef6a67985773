"""The demo's second half: a named person approves a few actions, the approvals sync runs (as the sensor would
start it), and summary lines say what reached the CRM and what the next ingest read back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

DEMO_APPROVER = "Demo Approver"
DEMO_APPROVALS = 6


def approve_for_demo(engine: sa.Engine, how_many: int = DEMO_APPROVALS) -> Counter:
    """Approve up to `how_many` actions awaiting a decision, one action type after another, as the demo user.

    Returns the approved count per action type. Actions the demo user may not decide (another owner's) are left."""
    from actions.policy import load_policy
    from actions.queue import DecisionQueue, NotAllowed
    from actions.states import AWAITING_DECISION

    queue = DecisionQueue(engine, load_policy())
    waiting = queue.list(states=[s.value for s in AWAITING_DECISION], risk_class="approve", limit=2000)
    by_type: dict[str, list] = {}
    for action in waiting:
        by_type.setdefault(action.action_type, []).append(action)
    approved: Counter = Counter()
    while sum(approved.values()) < how_many and any(by_type.values()):
        for action_type in sorted(by_type):
            if not by_type[action_type] or sum(approved.values()) >= how_many:
                continue
            action = by_type[action_type].pop(0)
            try:
                queue.approve(action.action_id, DEMO_APPROVER, note="approved in the demo")
            except NotAllowed:
                continue
            approved[action_type] += 1
    return approved


def sync_summary_lines(engine: sa.Engine) -> list[str]:
    """What the sync engine did so far: actions sent per kind, dead letters, stops at send time, field updates."""
    from ops_store.schema import sync_ledger, sync_outbox

    with engine.connect() as con:
        states = Counter(
            dict(con.execute(sa.select(sync_outbox.c.state, sa.func.count()).group_by(sync_outbox.c.state)).all())
        )
        sent = dict(
            con.execute(
                sa.select(sync_outbox.c.request_kind, sa.func.count())
                .where(sync_outbox.c.state == "sent")
                .group_by(sync_outbox.c.request_kind)
            ).all()
        )
        ledger = dict(
            con.execute(sa.select(sync_ledger.c.object_type, sa.func.count()).group_by(sync_ledger.c.object_type)).all()
        )
    records = ledger.get("contacts", 0)
    if not states and not ledger:
        return []
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in sorted(sent.items(), key=lambda kv: -kv[1]))
    others = ", ".join(f"{state} {n:,}" for state, n in states.most_common() if state != "sent")
    return [
        f"synced to the CRM: {states['sent']:,} actions sent ({kinds or 'none'})" + (f"; {others}" if others else ""),
        f"score fields in the CRM: {records:,} contact records carry Actionhouse scores (actionhouse sync status)",
        *(
            [f"risk verdicts in the CRM: {ledger['companies']:,} customer company records carry them"]
            if ledger.get("companies")
            else []
        ),
    ]


def read_back_lines(con) -> list[str]:
    """What the API ingestion read back from the CRM: tasks and notes, and contacts carrying Actionhouse scores."""
    activities = dict(
        con.execute(
            "select activity_type, count(distinct record_id) from raw.hubspot_activities "
            "where _source_file like 'api:hubspot/%' group by 1"
        ).fetchall()
    )
    from_actionhouse = con.execute(
        "select count(distinct record_id) from raw.hubspot_activities "
        "where _source_file like 'api:hubspot/%' and extra_columns->>'actionhouse_id' is not null"
    ).fetchall()[0][0]
    scored = con.execute(
        "select count(distinct record_id) from raw.hubspot_contacts "
        "where _source_file = 'api:hubspot/contacts' and extra_columns->>'actionhouse_tier' is not null"
    ).fetchall()[0][0]
    if not activities and not scored:
        return []
    return [
        f"read back from the CRM: {activities.get('TASK', 0):,} tasks and {activities.get('NOTE', 0):,} notes "
        f"({from_actionhouse:,} written by Actionhouse), {scored:,} contacts with Actionhouse scores"
    ]


def run_demo_approvals(data_dir: Path, run_job: Callable[[str], bool], say: Callable[[str], None]) -> bool:
    """Approve a few actions as the demo user, run the approvals sync job (as the sensor would), then the read-back
    job (the next ingest of what the CRM now holds). `run_job(job name)` runs one job; True when all went well."""
    from ops_store import open_store, ops_db_url_from_env
    from orchestration.defs.sync.assets import ACTION_SYNC_JOB_NAME, CRM_READ_BACK_JOB_NAME

    engine = open_store(ops_db_url_from_env(data_dir))
    try:
        approved = approve_for_demo(engine)
    finally:
        engine.dispose()
    if approved:
        listing = ", ".join(f"{t} {n}" for t, n in approved.most_common())
        say(
            f"{DEMO_APPROVER} approved {sum(approved.values())} action(s): {listing}. Syncing them as the sensor would."
        )
        if not run_job(ACTION_SYNC_JOB_NAME):
            return False
    else:
        say("No actions were waiting for a decision; nothing for the demo user to approve.")
    say("Reading back what the CRM now holds (tasks, notes, owners, scores), as the next ingest does ...")
    return run_job(CRM_READ_BACK_JOB_NAME)
