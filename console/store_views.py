"""What the console reads from the operational store (live, transactional): the queue with its filters and
paging, the audit log, the sync log and the safety figures. Decisions themselves go through `DecisionQueue`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from actions.catalog import MERGE_ACTION_TYPES
from actions.queue import SPLIT_EVENT
from actions.states import AWAITING_DECISION
from ops_store.schema import action_events, actions, kill_switch_events, planner_runs, sync_log, utc_now

QUEUE_PAGE_SIZE = 50
AWAITING = sorted(s.value for s in AWAITING_DECISION)


def queue_filters(params: dict[str, str]) -> dict[str, str]:
    """The queue filters a request set (workflow, risk, owner, type, state, min age in hours)."""
    keys = ("workflow", "risk", "owner", "type", "state", "min_age_hours")
    return {k: params[k].strip() for k in keys if params.get(k, "").strip()}


def _where(query, filters: dict[str, str], now: datetime):
    if filters.get("workflow"):
        query = query.where(actions.c.workflow == filters["workflow"])
    if filters.get("risk"):
        query = query.where(actions.c.risk_class == filters["risk"])
    if filters.get("owner"):
        query = query.where(actions.c.owner == filters["owner"])
    if filters.get("type"):
        query = query.where(actions.c.action_type == filters["type"])
    state = filters.get("state", "awaiting")
    if state == "awaiting":
        query = query.where(actions.c.state.in_(AWAITING))
    elif state != "all":
        query = query.where(actions.c.state == state)
    age = filters.get("min_age_hours")
    if age:
        try:
            hours = float(age)
        except ValueError:
            hours = 0.0
        query = query.where(actions.c.proposed_at <= now - timedelta(hours=hours))
    return query


def queue_page(engine: sa.Engine, filters: dict[str, str], page: int = 0) -> tuple[list[dict[str, Any]], int]:
    """One page of the queue (oldest waiting first, so nothing ages out unseen) and the number that match."""
    now = utc_now()
    cols = [
        actions.c.action_id,
        actions.c.workflow,
        actions.c.action_type,
        actions.c.target_label,
        actions.c.target_id,
        actions.c.owner,
        actions.c.risk_class,
        actions.c.state,
        actions.c.proposed_at,
        actions.c.expires_at,
        actions.c.approver_group,
        actions.c.customer_facing,
    ]
    query = _where(sa.select(*cols), filters, now).order_by(actions.c.proposed_at, actions.c.action_id)
    count = _where(sa.select(sa.func.count()).select_from(actions), filters, now)
    with engine.connect() as con:
        total = con.execute(count).scalar_one()
        found = [dict(r) for r in con.execute(query.limit(QUEUE_PAGE_SIZE).offset(page * QUEUE_PAGE_SIZE)).mappings()]
    for row in found:
        row["age_hours"] = (now - row["proposed_at"]).total_seconds() / 3600
    return found, total


def queue_options(engine: sa.Engine) -> dict[str, list[str]]:
    """Values the queue filters can take."""
    with engine.connect() as con:

        def distinct(col) -> list[str]:
            return [r[0] for r in con.execute(sa.select(col).distinct().order_by(col)) if r[0] is not None]

        return {
            "workflow": distinct(actions.c.workflow),
            "risk": distinct(actions.c.risk_class),
            "owner": distinct(actions.c.owner),
            "type": distinct(actions.c.action_type),
            "state": distinct(actions.c.state),
        }


def waiting_per_workflow(engine: sa.Engine) -> list[dict[str, Any]]:
    """Actions waiting for a person per workflow and risk class."""
    query = (
        sa.select(actions.c.workflow, actions.c.risk_class, sa.func.count().label("waiting"))
        .where(actions.c.state.in_(AWAITING))
        .group_by(actions.c.workflow, actions.c.risk_class)
        .order_by(actions.c.workflow, actions.c.risk_class)
    )
    with engine.connect() as con:
        return [dict(r) for r in con.execute(query).mappings()]


def audit_log(engine: sa.Engine, limit: int = 100, people_only: bool = False) -> list[dict[str, Any]]:
    """The latest audit events (newest first), with the action each is about."""
    query = (
        sa.select(
            action_events.c.at,
            action_events.c.actor,
            action_events.c.event,
            action_events.c.from_state,
            action_events.c.to_state,
            action_events.c.note,
            action_events.c.action_id,
            actions.c.action_type,
            actions.c.workflow,
        )
        .join(actions, actions.c.action_id == action_events.c.action_id)
        .order_by(action_events.c.event_id.desc())
        .limit(limit)
    )
    if people_only:
        query = query.where(action_events.c.actor.notin_(["policy", "planner", "sync"]))
    with engine.connect() as con:
        return [dict(r) for r in con.execute(query).mappings()]


def sync_log_rows(engine: sa.Engine, failures_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
    """The per-row sync log (newest first); with `failures_only`, everything that was not sent."""
    query = sa.select(sync_log).order_by(sync_log.c.log_id.desc()).limit(limit)
    if failures_only:
        query = query.where(sync_log.c.status != "sent")
    with engine.connect() as con:
        return [dict(r) for r in con.execute(query).mappings()]


def sync_status_counts(engine: sa.Engine) -> list[dict[str, Any]]:
    query = (
        sa.select(sync_log.c.sync, sync_log.c.status, sa.func.count().label("rows"))
        .group_by(sync_log.c.sync, sync_log.c.status)
        .order_by(sync_log.c.sync, sync_log.c.status)
    )
    with engine.connect() as con:
        return [dict(r) for r in con.execute(query).mappings()]


def kill_switch_history(engine: sa.Engine, limit: int = 20) -> list[dict[str, Any]]:
    query = sa.select(kill_switch_events).order_by(kill_switch_events.c.event_id.desc()).limit(limit)
    with engine.connect() as con:
        return [dict(r) for r in con.execute(query).mappings()]


def latest_planner_run(engine: sa.Engine) -> dict[str, Any] | None:
    with engine.connect() as con:
        row = con.execute(sa.select(planner_runs).order_by(planner_runs.c.started_at.desc()).limit(1)).mappings()
        first = row.first()
    return dict(first) if first else None


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def workflow_metrics(engine: sa.Engine) -> dict[str, Any]:
    """Done and safety figures derivable from the queue and the sync log so far (None: not measurable yet)."""
    with engine.connect() as con:
        by_type_state = con.execute(
            sa.select(actions.c.workflow, actions.c.action_type, actions.c.state, sa.func.count()).group_by(
                actions.c.workflow, actions.c.action_type, actions.c.state
            )
        ).all()
        blocked_after_unsubscribe = con.execute(
            sa.select(sa.func.count())
            .select_from(sync_log)
            .where(sync_log.c.status == "blocked", sync_log.c.message.ilike("%suppress%"))
        ).scalar_one()
        merges_split = con.execute(
            sa.select(sa.func.count(sa.distinct(action_events.c.action_id)))
            .select_from(action_events.join(actions, actions.c.action_id == action_events.c.action_id))
            .where(action_events.c.event == SPLIT_EVENT, actions.c.action_type.in_(sorted(MERGE_ACTION_TYPES)))
        ).scalar_one()
    per_workflow: dict[str, dict[str, int]] = {}
    per_type: dict[str, dict[str, int]] = {}
    for workflow, action_type, state, n in by_type_state:
        per_workflow.setdefault(workflow, {}).setdefault(state, 0)
        per_workflow[workflow][state] += n
        per_type.setdefault(action_type, {}).setdefault(state, 0)
        per_type[action_type][state] += n

    def total(counts: dict[str, int], states: tuple[str, ...] | None = None) -> int:
        return sum(n for s, n in counts.items() if states is None or s in states)

    unsub = per_type.get("crm_unsubscribe", {})
    merges = per_type.get("merge_contacts", {})
    replies = per_workflow.get("replies", {})
    escalations = per_type.get("escalate_reply", {})
    decided = ("approved", "rejected", "queued", "sent", "failed", "dead_lettered")
    return {
        "per_workflow": per_workflow,
        "safety": [
            {
                "metric": "unsubscribe compliance",
                "value": _rate(total(unsub, ("sent",)), total(unsub, ("sent", "queued", "approved", "failed"))),
                "detail": f"{total(unsub, ('sent',))} CRM unsubscribes sent; "
                f"{blocked_after_unsubscribe} sends stopped at send time by the suppression list",
            },
            {
                "metric": "spam complaint rate",
                "value": None,
                "detail": "not measured yet: no outbound email workflow has sent mail",
            },
            {
                "metric": "incorrect merge rate (merges later split by a person)",
                "value": _rate(merges_split, total(merges, ("sent",))),
                "detail": f"{merges_split} of {total(merges, ('sent',))} merges sent were recorded as split; "
                f"{total(merges, ('rejected',))} of {total(merges, decided)} merge proposals rejected before",
            },
            {
                "metric": "escalation rate (replies)",
                "value": _rate(total(escalations), total(replies)),
                "detail": f"{total(escalations)} of {total(replies)} reply actions escalated to a person",
            },
        ],
    }
