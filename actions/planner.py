"""The planner: workflows propose, the policy classes, the queue keeps one action per decision.

    inputs = load_inputs(con)                                  # candidate marts, scores, reply classes
    result = plan(inputs, policy, StoreView.read(engine, policy), now=utc_now(), run_id="...")
    apply_plan(result, engine, policy)                         # suppression entries, new actions, withdrawals

`plan` writes nothing (so `actionhouse policy diff` can run it with another policy); `apply_plan` writes the
suppression entries first, then the actions, then withdraws the open actions whose evidence changed.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from itertools import islice
from typing import Any

import polars as pl
import sqlalchemy as sa

from actions.catalog import ACTION_TYPES, WORKFLOW_LABELS, RiskClass, Workflow
from actions.guardrails import Blocked, GuardrailContext, classify
from actions.holdout import SAFETY_ACTION_TYPES, holdout_unit
from actions.inputs import PlanningInputs
from actions.kill_switch import KillSwitch
from actions.model import Action, Proposal, built
from actions.policy import Policy
from actions.queue import DecisionQueue, StoredAction
from actions.states import State
from actions.suppression import SuppressionEntry, SuppressionList, SuppressionSnapshot, entry_keys, normalize_value
from actions.workflows.at_risk import at_risk_proposals
from actions.workflows.hygiene import CAPPED_TYPES, cap_per_owner, hygiene_proposals
from actions.workflows.meetings import meeting_proposals
from actions.workflows.multithreading import multithreading_proposals
from actions.workflows.no_show import no_show_proposals
from actions.workflows.replies import reply_proposals
from actions.workflows.reviews import ReviewCandidates, enrichment_candidates, merge_candidates
from actions.workflows.routing import OwnerPicker, routing_proposals
from actions.workflows.sequence_drafts import cap_drafts_per_owner, enrolment_key, sequence_draft_proposals
from actions.workflows.sequences import sequence_proposals
from actions.workflows.sla import sla_proposals, sla_timers
from actions.workflows.suppression import suppression_entries, unsubscribe_proposals
from ops_store.schema import action_events, kill_switch_events, planner_runs, suppressions, utc_now
from ops_store.schema import actions as actions_table

# Inputs each workflow needs; when one is missing (its table is not built yet) the workflow sits this run out.
NEEDS: dict[Workflow, set[str]] = {
    Workflow.SUPPRESSION: {"contacts", "suppression_signals"},
    Workflow.REPLY_ROUTING: {"contacts", "replies", "triggers"},
    Workflow.LEAD_ROUTING: {"contacts", "lead_scores", "inbound_leads", "owner_load"},
    Workflow.SLA: {"contacts", "lead_scores", "replies", "triggers", "owner_load"},
    Workflow.MERGES: {"contacts", "merge_proposals"},
    Workflow.ENRICHMENT: {"contacts", "enrichment_reviews"},
    Workflow.AT_RISK: {"contacts", "account_risk"},
    Workflow.HYGIENE: {"contacts", "meeting_follow_ups", "open_deals", "stage_evidence"},
    Workflow.NO_SHOW: {"contacts", "no_shows", "replies"},
    Workflow.MEETINGS: {"contacts", "replies", "meeting_requests", "owner_calendar"},
    Workflow.SEQUENCES: {"contacts", "lead_scores", "sequence_candidates"},
    # After sequence selection: the drafts are for the enrolments it queues.
    Workflow.SEQUENCE_DRAFTS: {"contacts", "lead_scores", "sequence_candidates"},
    Workflow.MULTITHREADING: {"contacts", "multithread_candidates"},
}
# Workflows whose slots are used once ever: an expired or withdrawn action is not proposed again (one reschedule
# note per missed meeting).
ONCE_EVER = {Workflow.NO_SHOW}
DAILY_CAPS = {Workflow.MERGES: "merge_proposals_per_day", Workflow.ENRICHMENT: "enrichment_reviews_per_day"}
# A slot whose action ended this way may be proposed again (with a different payload).
REOPENABLE = {State.EXPIRED, State.WITHDRAWN}
# An enrolment whose slot holds one of these is not live: its step drafts are not proposed.
ENROLMENT_GONE = REOPENABLE | {State.REJECTED}
ESCALATION_DONE = {State.APPROVED, State.QUEUED, State.SENT}


# What planning reads of every open action (`_withdrawals`).
OPEN_ACTION_FIELDS = (
    "action_id",
    "workflow",
    "action_type",
    "slot_key",
    "evidence_window",
    "target_kind",
    "target_id",
    "target_emails",
    "target_domain",
)
# What `_why_gone` reads besides, only of the open actions no longer proposed: JSON documents that took most of the
# store read to fetch and parse for every open action (110,000 at 1M contacts) when an hour withdraws a few.
OPEN_ACTION_DETAILS = ("payload", "evidence")


@dataclass
class StoreView:
    """What planning reads from the operational store, read once per run."""

    suppression: SuppressionSnapshot
    # (slot keys, the workflow they are of) -> the actions each already has, as (action id, state)
    slot_lookup: Callable[[list[str], Workflow], dict[str, list[tuple[str, State]]]]
    open_actions: list[StoredAction]
    touches_this_week: dict[str, int]
    proposed_today: Counter
    # SLA trigger id -> the data time its escalation was made (escalations approved, queued or sent)
    escalated_triggers: dict[str, datetime]
    kill_switch_on: bool
    # review workflow -> evidence window -> states of its actions (the daily-capped queues skip what they hold)
    review_windows: dict[str, dict[str, list[State]]] = field(default_factory=dict)
    # owner -> hygiene tasks and flags proposed for them today (the per-owner daily cap)
    hygiene_today_by_owner: Counter = field(default_factory=Counter)
    # owner -> sequence-step drafts proposed for them today (the per-owner daily cap)
    sequence_drafts_today_by_owner: Counter = field(default_factory=Counter)
    # When the store was read, and the last audit event, suppression entry and kill-switch event it saw: the policy
    # backtest rebuilds the store as this run read it.
    read_at: datetime | None = None
    read_marks: dict[str, int] = field(default_factory=dict)
    # action ids -> their `OPEN_ACTION_DETAILS` (None: `open_actions` hold them already). An action's payload and
    # evidence are written once, when it is proposed (an edit goes to `edited_payload`), so reading them later in
    # the run reads what they were when the store was read.
    open_action_details: Callable[[list[str]], dict[str, dict[str, Any]]] | None = None

    @classmethod
    def read(cls, engine: sa.Engine, policy: Policy, now: datetime) -> StoreView:
        """Read what planning needs from the store (slots are looked up later, only for this run's proposals)."""
        read_at = utc_now()
        queue = DecisionQueue(engine, policy)
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        with engine.connect() as con:
            # Held-out actions take no room in any daily cap (nothing is sent for them).
            today = Counter(
                dict(
                    con.execute(
                        sa.select(actions_table.c.workflow, sa.func.count())
                        .where(actions_table.c.proposed_at >= day_start, actions_table.c.state != State.HELD_OUT.value)
                        .group_by(actions_table.c.workflow)
                    ).all()
                )
            )
            marks = {
                table.name: con.execute(sa.select(sa.func.max(column))).scalar() or 0
                for table, column in (
                    (action_events, action_events.c.event_id),
                    (suppressions, suppressions.c.suppression_id),
                    (kill_switch_events, kill_switch_events.c.event_id),
                )
            }
            escalations = con.execute(
                sa.select(actions_table.c.payload, actions_table.c.as_of).where(
                    actions_table.c.action_type == "sla_escalation",
                    actions_table.c.state.in_([s.value for s in ESCALATION_DONE]),
                )
            ).all()
            escalated = {payload.get("sla_trigger"): as_of for payload, as_of in escalations}
            hygiene_today = _per_owner_since(con, Workflow.HYGIENE, CAPPED_TYPES, day_start)
            drafts_today = _per_owner_since(con, Workflow.SEQUENCE_DRAFTS, {"send_email"}, day_start)
            review_windows: dict[str, dict[str, list[State]]] = {}
            for workflow, window, state in con.execute(
                sa.select(actions_table.c.workflow, actions_table.c.evidence_window, actions_table.c.state).where(
                    actions_table.c.workflow.in_([w.value for w in DAILY_CAPS])
                )
            ):
                review_windows.setdefault(workflow, {}).setdefault(window, []).append(State(state))
        return cls(
            suppression=SuppressionList(engine).snapshot(),
            slot_lookup=lambda slots, workflow: queue.slot_states(slots, workflow.value),
            open_actions=list(queue.iter_open(OPEN_ACTION_FIELDS)),
            touches_this_week=queue.customer_facing_touches(now - timedelta(days=7)),
            proposed_today=today,
            escalated_triggers={t: at for t, at in escalated.items() if t},
            kill_switch_on=KillSwitch(engine, policy.kill_switch.default).state().on,
            review_windows=review_windows,
            hygiene_today_by_owner=hygiene_today,
            sequence_drafts_today_by_owner=drafts_today,
            read_at=read_at,
            read_marks=marks,
            open_action_details=lambda ids: queue.fields_of(ids, OPEN_ACTION_DETAILS),
        )


def _per_owner_since(
    con: sa.Connection, workflow: Workflow, types: frozenset[str] | set[str], since: datetime
) -> Counter:
    """Owner -> actions of these types the workflow proposed for them since a moment (per-owner daily caps)."""
    out: Counter = Counter()
    for owner, count in con.execute(
        sa.select(actions_table.c.owner, sa.func.count())
        .where(
            actions_table.c.workflow == workflow.value,
            actions_table.c.action_type.in_(sorted(types)),
            actions_table.c.proposed_at >= since,
            actions_table.c.state != State.HELD_OUT.value,
        )
        .group_by(actions_table.c.owner)
    ):
        out[owner or ""] += count
    return out


@dataclass
class PlanResult:
    """What one planning run decided (nothing is written until `apply_plan`)."""

    run_id: str
    as_of: datetime
    now: datetime
    policy_version: str
    # a `LazyEntries` when planned (entries built when read)
    suppression_entries: Sequence[SuppressionEntry] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    candidates: Counter = field(default_factory=Counter)
    kept: Counter = field(default_factory=Counter)
    blocked: list[Blocked] = field(default_factory=list)
    deferred: Counter = field(default_factory=Counter)
    # workflow -> actions recorded as held out (their targets are in the workflow's holdout group)
    held_out: Counter = field(default_factory=Counter)
    withdrawals: list[tuple[str, str]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    store_read_at: datetime | None = None
    store_read_marks: dict[str, int] = field(default_factory=dict)
    # action id -> the payload hash its id rests on (`GuardrailContext.payload_hashes`), stored with the action
    payload_hashes: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Counts for metadata, the planner-run log and the demo summary."""
        return {
            "as_of": self.as_of.isoformat(),
            "policy_version": self.policy_version,
            "new_actions": len(self.actions),
            "new_by_workflow": dict(Counter(a.workflow.value for a in self.actions)),
            "new_by_risk_class": dict(Counter(a.risk_class.value for a in self.actions)),
            "candidates_by_workflow": {k.value: v for k, v in self.candidates.items()},
            "already_in_queue": {k.value: v for k, v in self.kept.items()},
            "blocked_by_rule": dict(Counter(b.rule for b in self.blocked)),
            "deferred_by_daily_cap": {k.value: v for k, v in self.deferred.items()},
            "held_out_by_workflow": {k.value: v for k, v in self.held_out.items() if v},
            "withdrawn": len(self.withdrawals),
            "suppression_entries_offered": len(self.suppression_entries),
            "skipped_workflows": self.skipped,
            "store_read_at": self.store_read_at.isoformat() if self.store_read_at else None,
            "store_read_marks": self.store_read_marks,
            "seconds": round(self.seconds, 3),
        }


def _merged_snapshot(snapshot: SuppressionSnapshot, entries: Sequence[SuppressionEntry]) -> SuppressionSnapshot:
    """The list as it will be once this run's entries are added (so they apply in the same refresh)."""
    maps = {
        ("email", "all"): dict(snapshot.emails),
        ("domain", "all"): dict(snapshot.domains),
        ("email", "prospecting"): dict(snapshot.prospecting_emails),
        ("domain", "prospecting"): dict(snapshot.prospecting_domains),
    }
    for kind, value, scope, reason in entry_keys(entries):  # a `LazyEntries` builds no entry for this
        maps[(kind, scope)].setdefault(normalize_value(kind, value), reason)
    return SuppressionSnapshot(
        emails=maps[("email", "all")],
        domains=maps[("domain", "all")],
        prospecting_emails=maps[("email", "prospecting")],
        prospecting_domains=maps[("domain", "prospecting")],
    )


def propose_all(
    inputs: PlanningInputs, policy: Policy, escalated: dict[str, datetime]
) -> tuple[dict[Workflow, list[Proposal | Blocked] | ReviewCandidates], dict[str, str]]:
    """Every workflow's proposals (before the policy) — review workflows give ranked candidates built lazily,
    as the daily cap lets only a few through — and the workflows skipped with why."""
    proposals, skipped = _proposals_by_workflow(inputs, policy, escalated)
    return dict(proposals), skipped


def _proposals_by_workflow(
    inputs: PlanningInputs, policy: Policy, escalated: dict[str, datetime]
) -> tuple[Iterator[tuple[Workflow, list[Proposal | Blocked] | ReviewCandidates]], dict[str, str]]:
    """`propose_all`, one workflow at a time in the order of `NEEDS` (a workflow's proposals need not be held while
    the next one's are built), and the workflows skipped with why."""
    skipped: dict[str, str] = {}
    runnable = []
    for workflow, needs in NEEDS.items():
        lacking = sorted(needs & inputs.missing)
        if lacking:
            skipped[workflow.value] = f"waiting for {', '.join(lacking)}"
        else:
            runnable.append(workflow)
    picker = OwnerPicker(inputs.owner_load)
    sequences = cache(lambda: sequence_proposals(inputs, policy))  # W6 drafts the steps of W5's enrolments
    builders = {
        Workflow.SUPPRESSION: lambda: unsubscribe_proposals(inputs, policy),
        Workflow.REPLY_ROUTING: lambda: reply_proposals(inputs, policy),
        Workflow.LEAD_ROUTING: lambda: routing_proposals(inputs, policy, picker),
        Workflow.SLA: lambda: sla_proposals(inputs, policy, escalated, picker),
        Workflow.MERGES: lambda: merge_candidates(inputs),
        Workflow.ENRICHMENT: lambda: enrichment_candidates(inputs),
        Workflow.AT_RISK: lambda: at_risk_proposals(inputs, policy),
        Workflow.HYGIENE: lambda: hygiene_proposals(inputs, policy),
        Workflow.NO_SHOW: lambda: no_show_proposals(inputs, policy),
        Workflow.MEETINGS: lambda: meeting_proposals(inputs, policy),
        Workflow.SEQUENCES: sequences,
        Workflow.SEQUENCE_DRAFTS: lambda: sequence_draft_proposals(inputs, policy, sequences()),
        Workflow.MULTITHREADING: lambda: multithreading_proposals(inputs, policy),
    }
    return ((w, builders[w]()) for w in runnable), skipped


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a block (as it was before, after it).

    Planning builds a few hundred thousand small objects (rows, proposals, their evidence) that live until the run
    ends; each time enough of them survive, Python scans every object of the process for cycles. At 100k contacts
    that was ~60% of the planner's time (12 full scans of ~0.3 s, more in the refresh process, which holds Dagster's
    and dbt's objects too). Planning makes no reference cycles worth collecting early: memory is freed by reference
    counting as before, and the collector runs again, on its own schedule, after the block.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def plan(
    inputs: PlanningInputs, policy: Policy, store: StoreView, now: datetime, run_id: str, *, prepass: bool = True
) -> PlanResult:
    """Decide this run's suppression entries, new actions and withdrawals (writes nothing).

    Workflows may give candidate rows as stubs (`ProposalStub`: slot key, owner, cap order from the frames); with
    `prepass` (the default) only the stubs whose slot is free and within today's caps are built into proposals.
    `prepass=False` builds every one up front, as the planner did before (the tests compare the two)."""
    with cyclic_gc_paused():
        return _plan(inputs, policy, store, now, run_id, prepass)


def _plan(
    inputs: PlanningInputs, policy: Policy, store: StoreView, now: datetime, run_id: str, prepass: bool = True
) -> PlanResult:
    started = time.perf_counter()
    result = PlanResult(
        run_id=run_id,
        as_of=inputs.as_of,
        now=now,
        policy_version=policy.version,
        store_read_at=store.read_at,
        store_read_marks=dict(store.read_marks),
    )
    missing_entries = "suppression_signals" in inputs.missing or "contacts" in inputs.missing
    result.suppression_entries = [] if missing_entries else suppression_entries(inputs, policy)
    context = GuardrailContext(
        suppression=_merged_snapshot(store.suppression, result.suppression_entries),
        touches_this_week=dict(store.touches_this_week),  # classify adds this run's touches to it
    )
    # One workflow at a time, in `NEEDS` order: its proposals are built, looked up in the queue, capped and classed,
    # then let go before the next workflow's are built (at 1M contacts all of them at once took gigabytes).
    by_workflow, result.skipped = _proposals_by_workflow(inputs, policy, store.escalated_triggers)
    refused_by_workflows: list[Blocked] = []  # listed first in `result.blocked`, as when all were built up front
    planned: set[Workflow] = set()
    live_slots: set[str] = set()
    live_windows: dict[Workflow, set[str]] = {}
    enrolments = _Enrolments()
    for workflow, proposals in by_workflow:
        planned.add(workflow)
        if not prepass and isinstance(proposals, list):
            proposals = [built(p) for p in proposals]
        # Proposals a workflow refused itself (a draft with a missing field or a banned claim): blocked, with the rule.
        if isinstance(proposals, list) and any(isinstance(p, Blocked) for p in proposals):
            refused_by_workflows.extend(p for p in proposals if isinstance(p, Blocked))
            proposals = [p for p in proposals if not isinstance(p, Blocked)]
        free = _holdout_test(policy, workflow)
        known_ids: set[str] = set()
        if isinstance(proposals, ReviewCandidates):
            fresh = _review_batch(workflow, proposals, policy, store, result)
            live_windows[workflow] = set(proposals.windows)
        else:
            slots = {p.slot_key for p in proposals}
            live_slots |= slots
            # A slot key names its workflow: looking slots up per workflow finds what one lookup of all would.
            existing_slots = store.slot_lookup(sorted(slots), workflow)
            known_ids = {action_id for states in existing_slots.values() for action_id, _ in states}
            if workflow == Workflow.SEQUENCE_DRAFTS:
                proposals = enrolments.drop_rejected(proposals, live_slots)
            result.candidates[workflow] = len(proposals)
            fresh = []
            once_ever, sequences = workflow in ONCE_EVER, workflow == Workflow.SEQUENCES
            for proposal in proposals:
                held = existing_slots.get(proposal.slot_key)
                if not held:  # most candidates' slots are free (an empty slot needs no further test)
                    fresh.append(proposal)
                    continue
                if sequences:
                    enrolments.note_held(proposal, held)
                if once_ever or any(state not in REOPENABLE for _, state in held):
                    result.kept[workflow] += 1
                    continue
                fresh.append(proposal)
            del proposals
            if workflow == Workflow.SEQUENCES and policy.sequences is not None:
                room = max(0, policy.sequences.max_new_per_day - store.proposed_today[workflow.value])
                fresh, result.deferred[workflow] = _first_with_room(fresh, room, free)
            if workflow == Workflow.HYGIENE and policy.hygiene is not None:
                fresh, result.deferred[workflow] = cap_per_owner(
                    fresh, policy.hygiene.max_items_per_owner_per_day, store.hygiene_today_by_owner, free
                )
            if workflow == Workflow.SEQUENCE_DRAFTS and policy.sequence_drafts is not None:
                fresh, refused, waiting = enrolments.split(fresh)
                result.blocked.extend(refused)
                fresh, capped = cap_drafts_per_owner(
                    fresh, policy.sequence_drafts.max_new_per_owner_per_day, store.sequence_drafts_today_by_owner, free
                )
                result.deferred[workflow] = waiting + capped
        # The pre-pass's end: only candidates whose slot is free and within today's caps become full proposals.
        fresh = [built(p) for p in fresh]
        classified, blocked = classify(fresh, policy, context, inputs.as_of, now, free=free)
        if workflow == Workflow.SEQUENCE_DRAFTS:
            classified, blocked = _whole_sequences(fresh, classified, blocked, context, free)
        classified = [a for a in classified if a.action_id not in known_ids]
        if free is not None:
            reason = policy.holdout_reason(workflow)
            classified = [a.model_copy(update={"holdout": reason}) if free(a) else a for a in classified]
            result.held_out[workflow] += sum(1 for a in classified if a.holdout is not None)
        if workflow == Workflow.SEQUENCES:
            enrolments.note_run(classified, blocked)
        result.actions.extend(classified)
        result.blocked.extend(blocked)
    result.blocked[:0] = refused_by_workflows
    result.withdrawals = _withdrawals(inputs, policy, store, context, live_slots, live_windows, planned)
    result.payload_hashes = context.payload_hashes
    result.seconds = time.perf_counter() - started
    return result


def _holdout_test(policy: Policy, workflow: Workflow) -> Callable[[Proposal | Action], bool] | None:
    """Whether a proposal (or action) of the workflow is held out: its target is in the workflow's holdout group and
    it is not a safety action (None: the workflow holds nobody out)."""
    if policy.holdout_share(workflow) <= 0:
        return None

    def held_out(item: Proposal | Action) -> bool:
        if item.action_type in SAFETY_ACTION_TYPES:
            return False
        return policy.in_holdout(workflow, holdout_unit(workflow, item.target.id, item.target.account_id))

    return held_out


def _first_with_room(
    proposals: list[Proposal], room: int, free: Callable[[Proposal], bool] | None
) -> tuple[list[Proposal], int]:
    """The first proposals up to `room`, held-out ones taking no room but cut at the same point; and how many wait."""
    kept, used = [], 0
    for proposal in proposals:
        if used >= room:
            break
        kept.append(proposal)
        if free is None or not free(proposal):
            used += 1
    return kept, len(proposals) - len(kept)


@dataclass
class _Enrolments:
    """Which of W5's enrolments this run are live (in the queue, or queued now), blocked, or rejected by a person:
    W6 queues step drafts only for live ones, blocks those of a blocked enrolment with its rule, and leaves those of a
    deferred one for another day."""

    live: set[tuple[str, str]] = field(default_factory=set)
    rejected: set[tuple[str, str]] = field(default_factory=set)
    blocked: dict[tuple[str, str], Blocked] = field(default_factory=dict)

    def note_held(self, enrolment: Proposal, held: list[tuple[str, State]]) -> None:
        """An enrolment already in the queue: live unless every action of its slot ended without going ahead."""
        key = enrolment_key(enrolment)
        if any(state not in ENROLMENT_GONE for _, state in held):
            self.live.add(key)
        elif any(state == State.REJECTED for _, state in held):
            self.rejected.add(key)

    def note_run(self, classified: list[Action], blocked: list[Blocked]) -> None:
        """This run's enrolments: queued, or stopped by a guardrail."""
        self.live.update((a.target.id, str(a.payload.get("sequence_id"))) for a in classified)
        self.blocked.update((enrolment_key(b.proposal), b) for b in blocked)

    def drop_rejected(self, drafts: list[Proposal], live_slots: set[str]) -> list[Proposal]:
        """Drafts of enrolments a person rejected are not proposed (their open drafts are withdrawn)."""
        gone = {d.slot_key for d in drafts if enrolment_key(d) in self.rejected and enrolment_key(d) not in self.live}
        live_slots.difference_update(gone)
        return [d for d in drafts if d.slot_key not in gone]

    def split(self, drafts: list[Proposal]) -> tuple[list[Proposal], list[Blocked], int]:
        """Drafts whose enrolment is live; drafts blocked with their enrolment's rule; how many wait (deferred)."""
        live, refused, waiting = [], [], 0
        for draft in drafts:
            key = enrolment_key(draft)
            if key in self.live:
                live.append(draft)
            elif key in self.blocked:
                why = self.blocked[key]
                refused.append(Blocked(draft, why.rule, f"its sequence enrolment is blocked: {why.reason}"))
            else:
                waiting += 1
        return live, refused, waiting


def _whole_sequences(
    drafts: list[Proposal],
    classified: list[Action],
    blocked: list[Blocked],
    context: GuardrailContext,
    free: Callable[[Proposal | Action], bool] | None = None,
) -> tuple[list[Action], list[Blocked]]:
    """A sequence goes out whole: when a guardrail stopped one step (say the account's weekly cap), its other steps
    are blocked with the same rule, and the touches they took are given back to the account."""
    refused = {enrolment_key(b.proposal): b for b in blocked}
    if not refused:
        return classified, blocked
    proposals = {d.slot_key: d for d in drafts}
    kept = []
    for action in classified:
        why = refused.get((action.target.id, str(action.payload.get("sequence_id"))))
        if why is None:
            kept.append(action)
            continue
        step = why.proposal.payload.get("step")
        blocked.append(Blocked(proposals[action.slot_key], why.rule, f"step {step} is refused: {why.reason}"))
        account = action.target.account_id
        took_touch = free is None or not free(action)
        if took_touch and account is not None and context.touches_this_week.get(account, 0) > 0:
            context.touches_this_week[account] -= 1
    return kept, blocked


def _review_batch(
    workflow: Workflow, candidates: ReviewCandidates, policy: Policy, store: StoreView, result: PlanResult
) -> list[Proposal]:
    """The next few review items (up to the daily cap), skipping evidence already in the queue."""
    decided = {
        window
        for window, states in store.review_windows.get(workflow.value, {}).items()
        if any(state not in REOPENABLE for state in states)
    }
    windows = set(candidates.windows)
    result.candidates[workflow] = len(windows)
    result.kept[workflow] = len(windows & decided)
    room = max(0, getattr(policy.caps, DAILY_CAPS[workflow]) - store.proposed_today[workflow.value])
    batch = list(islice(candidates.build(decided), room))
    result.deferred[workflow] = len(windows) - len(windows & decided) - len(batch)
    return batch


def _withdrawals(
    inputs: PlanningInputs,
    policy: Policy,
    store: StoreView,
    context: GuardrailContext,
    live_slots: set[str],
    live_windows: dict[Workflow, set[str]],
    planned: set[Workflow],
) -> list[tuple[str, str]]:
    """Open actions of the workflows planned this run that no longer hold: suppressed since, or no longer
    proposed because their evidence changed."""
    out: list[tuple[StoredAction, str | None]] = []  # None: no longer proposed, explained below
    # Per workflow and per action type, what every open action of it needs (~110,000 open actions an hour at 1M
    # contacts, of a dozen workflows and a few dozen types): whether it was planned and its live evidence windows,
    # whether it is tested against the suppression list. Each row's fields are read from its dict.
    windows_of: dict[str, set[str] | tuple[()] | None] = {}  # None: not planned this run
    tested_of: dict[str, bool] = {}
    reason = context.suppression.reason
    for action in store.open_actions:
        row = action.row
        name = row["workflow"]
        if name not in windows_of:
            workflow = Workflow(name)
            windows_of[name] = live_windows.get(workflow, ()) if workflow in planned else None
        windows = windows_of[name]
        if windows is None:
            continue
        action_type = row["action_type"]
        tested = tested_of.get(action_type)
        if tested is None:
            kind = ACTION_TYPES[action_type]
            tested = tested_of[action_type] = kind.reaches_contact or kind.customer_facing
        if tested:
            why = reason(row["target_emails"] or [], row["target_domain"])
            if why:
                out.append((action, f"Withdrawn: the contact is now suppressed — {why}."))
                continue
        if row["slot_key"] in live_slots or row["evidence_window"] in windows:
            continue
        out.append((action, None))
    if store.open_action_details is not None:
        details = store.open_action_details([a.action_id for a, why in out if why is None])
        out = [
            (
                StoredAction({**a.row, **details.get(a.action_id, dict.fromkeys(OPEN_ACTION_DETAILS))})
                if why is None
                else a,
                why,
            )
            for a, why in out
        ]
    # The contacts of the actions no longer proposed, read at once (not every contact: most hours withdraw few).
    targets = {a.target_id for a, why in out if why is None and a.target_kind == "contact"}
    contacts = {
        r["golden_contact_id"]: r
        for r in inputs.contacts.filter(pl.col("golden_contact_id").is_in(sorted(targets)))
        .select("golden_contact_id", "tier", "contact_owner", "country_code", "is_crm_unsubscribed")
        .iter_rows(named=True)
    }
    return [(a.action_id, why or "Withdrawn: " + _why_gone(a, inputs, policy, contacts)) for a, why in out]


def _evidence_value(action: StoredAction, field_name: str) -> Any:
    for row in action.evidence or []:
        if row.get("field") == field_name:
            return row.get("value")
    return None


# Why a workflow's open action is no longer proposed, where the words need nothing from the data.
_NO_LONGER_PROPOSED = {
    Workflow.MERGES.value: "the pair is no longer a merge proposal (merged, split, or the evidence changed).",
    Workflow.ENRICHMENT.value: "the vendor value is no longer held back for review (applied, superseded or "
    "withdrawn by the vendor).",
    Workflow.MULTITHREADING.value: "the deal now has enough engaged stakeholders, moved on or closed, or the "
    "function is covered.",
    Workflow.SEQUENCES.value: "the signal faded (older than 30 days), the contact became a customer or got a "
    "deal, or the match fell below the floor.",
    Workflow.SEQUENCE_DRAFTS.value: "the sequence is no longer proposed for the contact (the signal faded, a "
    "customer or a deal now, below the floor) or a person rejected its enrolment.",
    Workflow.MEETINGS.value: "a meeting is booked since the reply, or the reply is older than the look-back.",
    Workflow.NO_SHOW.value: "a later meeting is booked, or the no-show is older than the look-back.",
    Workflow.HYGIENE.value: "the meeting was followed up, the deal now has what it lacked, or the stage already moved.",
    Workflow.AT_RISK.value: "the account's risk verdict changed (tier, renewal date, or no longer at risk).",
}


def _why_gone(action: StoredAction, inputs: PlanningInputs, policy: Policy, contacts: dict[str, dict]) -> str:
    """In words, why the planner no longer proposes an open action."""
    if action.target_kind == "contact":
        contact = contacts.get(action.target_id)
        if contact is None:
            return f"golden contact {action.target_id} no longer exists (its records were merged or removed)."
        before, now = _evidence_value(action, "tier"), contact["tier"]
        if before is not None and now is not None and before != now:
            return f"the contact's tier changed from {before} to {now}."
        if action.workflow == Workflow.LEAD_ROUTING.value:
            owner = contact["contact_owner"] or "nobody"
            return f"the owner is now {owner} in {contact['country_code']}: no change needed."
        if action.workflow == Workflow.SUPPRESSION.value and contact["is_crm_unsubscribed"]:
            return "the CRM already shows the contact as unsubscribed."
    if action.workflow == Workflow.SLA.value:
        trigger = (action.payload or {}).get("sla_trigger")
        timers = sla_timers(inputs, policy).filter(pl.col("trigger_id") == trigger)
        if timers.height and timers["state"][0] in ("met", "late"):
            row = timers.row(0, named=True)
            return f"first touch logged on {row['first_touch_at']:%Y-%m-%d %H:%M} UTC by {row['first_touch_by']}."
        return "the follow-up is outside the SLA look-back or no longer needs one."
    if action.workflow == Workflow.REPLY_ROUTING.value:
        return f"the reply is now classified differently, or is older than {policy.reply_routing.lookback_days} days."
    if action.workflow in _NO_LONGER_PROPOSED:
        return _NO_LONGER_PROPOSED[action.workflow]
    if action.target_kind == "lead":
        return "the lead is now a contact in the CRM (or older than the look-back)."
    return "the evidence it rested on changed; the planner no longer proposes it."


def apply_plan(result: PlanResult, engine: sa.Engine, policy: Policy) -> dict[str, int]:
    """Write a plan: suppression entries, then new actions, then withdrawals, then the planner-run record."""
    with cyclic_gc_paused():  # thousands of rows built and written at once (see `cyclic_gc_paused`)
        return _apply_plan(result, engine, policy)


def _apply_plan(result: PlanResult, engine: sa.Engine, policy: Policy) -> dict[str, int]:
    queue = DecisionQueue(engine, policy)
    with engine.begin() as con:
        con.execute(
            sa.insert(planner_runs).values(
                run_id=result.run_id, started_at=result.now, as_of=result.as_of, policy_version=result.policy_version
            )
        )
    added_entries = SuppressionList(engine).add_many(result.suppression_entries, added_by="planner", at=result.now)
    added = queue.add(result.actions, run_id=result.run_id, payload_hashes=result.payload_hashes)
    # Decided or queued meanwhile: people win over the planner (those stay as they are).
    withdrawn = queue.withdraw_many(result.withdrawals)
    summary = {
        **result.summary(),
        "suppression_entries_added": added_entries,
        "actions_added": len(added),
        "withdrawn": withdrawn,
    }
    with engine.begin() as con:
        con.execute(
            sa.update(planner_runs)
            .where(planner_runs.c.run_id == result.run_id)
            .values(finished_at=result.now, summary=summary)
        )
    return {"suppression_entries_added": added_entries, "actions_added": len(added), "withdrawn": withdrawn}


def workflow_label(workflow: str) -> str:
    """How the summary names a workflow."""
    return WORKFLOW_LABELS.get(Workflow(workflow), workflow)


def risk_label(risk: str) -> str:
    """How the summary names a risk class."""
    return RiskClass(risk).value


@dataclass
class PolicyDiff:
    """How a candidate policy's proposals differ from the current policy's, on the same data."""

    added: list[Action] = field(default_factory=list)
    dropped: list[Action] = field(default_factory=list)
    reclassed: list[tuple[Action, Action]] = field(default_factory=list)
    unchanged: int = 0


def _all_candidates(inputs: PlanningInputs, policy: Policy, store: StoreView, now: datetime) -> dict[str, Action]:
    """Every action a policy would want on this data (queued or not), keyed by slot."""
    context = GuardrailContext(
        suppression=_merged_snapshot(store.suppression, suppression_entries(inputs, policy)),
        touches_this_week=dict(store.touches_this_week),  # classify adds this run's touches to it
    )
    by_workflow, _ = propose_all(inputs, policy, store.escalated_triggers)
    out: dict[str, Action] = {}
    for workflow, proposals in by_workflow.items():
        if isinstance(proposals, ReviewCandidates):  # a day's worth of review items
            proposals = list(islice(proposals.build(set()), getattr(policy.caps, DAILY_CAPS[workflow])))
        proposals = [built(p) for p in proposals if not isinstance(p, Blocked)]
        classified, _ = classify(proposals, policy, context, inputs.as_of, now)
        out.update((a.slot_key, a) for a in classified)
    return out


def compare_policies(
    inputs: PlanningInputs, current: Policy, candidate: Policy, store: StoreView, now: datetime
) -> PolicyDiff:
    """Which proposals `candidate` would add, drop or re-class compared with `current` (writes nothing)."""
    with cyclic_gc_paused():
        before = _all_candidates(inputs, current, store, now)
        after = _all_candidates(inputs, candidate, store, now)
    diff = PolicyDiff()
    for slot, action in after.items():
        if slot not in before:
            diff.added.append(action)
        elif before[slot].risk_class != action.risk_class:
            diff.reclassed.append((before[slot], action))
        else:
            diff.unchanged += 1
    diff.dropped = [action for slot, action in before.items() if slot not in after]
    return diff
