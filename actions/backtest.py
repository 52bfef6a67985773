"""Policy backtest: what would the planner have proposed over the past week under another policy?

    report = backtest(engine, candidate_policy, snapshot_root(data_dir), since=utc_now() - timedelta(days=7))
    print("\n".join(report.lines()))

For each past planning run (`planner_runs`) whose inputs were kept (`actions.snapshots`), the planner runs again on
exactly those inputs, at that run's clock, under the candidate policy, against the decision queue *as it was when
that run read it*. The past queue is rebuilt in a scratch in-memory store from the append-only audit log: every
action enters with its first event and changes state with each later one, up to the last event the run had read
(`summary.store_read_marks`: the last id of each log when it read the store); the suppression list and the kill
switch likewise. The replay then carries the candidate's own history forward: proposals the candidate adds stay in
the scratch queue (and expire like any), and actual proposals it would not have made never enter it — so a cap
raised by 50 a day shows as 50 more a day, not 50 more every hour.

Per workflow the report counts, against what each run actually proposed (same decision slot): proposals added,
dropped, re-classed (risk class changed), held out; per owner the workload (actions for them that are not held
out). `estimated_effect` is the hook for the measured lift of each workflow (the outcome marts): `EffectSource`.

It writes nothing: the operational store is only read, the scratch store lives in memory, no CRM is contacted.
A backtest of the policy in use reproduces the proposals that were made (`reproduced`).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa

from actions.model import Action
from actions.planner import StoreView, plan
from actions.policy import Policy
from actions.queue import new_action_row
from actions.snapshots import has_snapshot, read_snapshot
from actions.states import NOT_YET_QUEUED, State, can_move
from ops_store import open_store
from ops_store.schema import action_events, actions, kill_switch_events, planner_runs, suppressions

_CHUNK = 500


class EffectSource(Protocol):
    """The measured lift of a workflow's treatment per treated target (from the outcome marts), or None when no
    held-out outcomes exist yet. `estimated_effect` = (treated proposals under the candidate - actual) x lift."""

    def __call__(self, workflow: str) -> Effect | None: ...


@dataclass(frozen=True)
class Effect:
    """A workflow's lift per treated target on its KPI metric, with its confidence interval."""

    metric: str
    lift: float
    ci_low: float
    ci_high: float


@dataclass
class WorkflowBacktest:
    """One workflow over the replayed runs."""

    workflow: str
    actual: int = 0
    candidate: int = 0
    added: int = 0
    dropped: int = 0
    reclassed: int = 0
    held_out_actual: int = 0
    held_out_candidate: int = 0
    # Filled from an `EffectSource` (the outcome marts' lift): the change in the workflow's KPI metric the
    # candidate's extra (or fewer) treated targets would bring; None while no held-out outcomes exist.
    estimated_effect: float | None = None
    effect_metric: str | None = None
    effect_ci: tuple[float, float] | None = None
    reclass_examples: Counter = field(default_factory=Counter)

    @property
    def treated_delta(self) -> int:
        return (self.candidate - self.held_out_candidate) - (self.actual - self.held_out_actual)


@dataclass
class RunBacktest:
    """One replayed run: the ids the candidate would have added and the actual ones it would have dropped."""

    run_id: str
    started_at: datetime
    actual: int
    candidate: int
    added: list[Action]
    dropped: list[dict[str, Any]]
    reclassed: list[tuple[dict[str, Any], Action]]
    same_ids: bool
    seconds: float


@dataclass
class BacktestReport:
    policy_version: str
    since: datetime
    runs: list[RunBacktest] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    workflows: dict[str, WorkflowBacktest] = field(default_factory=dict)
    # owner -> (actions for them actually, under the candidate); held-out actions excluded
    workload: dict[str, tuple[int, int]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def reproduced(self) -> bool:
        """Every replayed run proposed exactly the actions that were made — same ids, classes and holdouts (true for
        the policy in use)."""
        return all(r.same_ids for r in self.runs)

    def totals(self) -> dict[str, int]:
        return {
            key: sum(getattr(w, key) for w in self.workflows.values())
            for key in ("actual", "candidate", "added", "dropped", "reclassed", "held_out_actual", "held_out_candidate")
        }

    def lines(self, owners: int = 15) -> list[str]:
        """The report as text."""
        out = [
            f"{'workflow':<17}{'actual':>8}{'candidate':>11}{'added':>7}{'dropped':>9}{'re-classed':>12}"
            f"{'held out':>16}  estimated effect"
        ]
        for name in sorted(self.workflows):
            w = self.workflows[name]
            if w.estimated_effect is None:
                effect = "n/a (no held-out outcomes yet)"
            else:
                low, high = w.effect_ci or (float("nan"), float("nan"))
                effect = f"{w.estimated_effect:+.2f} {w.effect_metric} (CI {low:+.2f}..{high:+.2f})"
            held = f"{w.held_out_actual} -> {w.held_out_candidate}"
            out.append(
                f"{name:<17}{w.actual:>8,}{w.candidate:>11,}{w.added:>7,}{w.dropped:>9,}{w.reclassed:>12,}"
                f"{held:>16}  {effect}"
            )
            for change, n in w.reclass_examples.most_common(3):
                out.append(f"{'':<17}re-classed {change}: {n:,}")
        t = self.totals()
        out.append(
            f"{'total':<17}{t['actual']:>8,}{t['candidate']:>11,}{t['added']:>7,}{t['dropped']:>9,}"
            f"{t['reclassed']:>12,}{t['held_out_actual']:>7,} -> {t['held_out_candidate']:<6,}"
        )
        out.append("workload per owner (actions for them, held-out excluded): actual -> candidate")
        ranked = sorted(self.workload.items(), key=lambda kv: (-abs(kv[1][1] - kv[1][0]), -kv[1][1], kv[0]))
        for owner, (before, after) in ranked[:owners]:
            out.append(f"  {owner[:28]:<29}{before:>6,} -> {after:<6,} ({after - before:+,})")
        if len(ranked) > owners:
            out.append(f"  … {len(ranked) - owners} more owners")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy_version": self.policy_version,
            "since": self.since.isoformat(),
            "runs_replayed": len(self.runs),
            "runs_skipped": [{"run_id": r, "why": why} for r, why in self.skipped],
            "reproduced": self.reproduced,
            "seconds": round(self.seconds, 3),
            "workflows": {
                name: {
                    "actual": w.actual,
                    "candidate": w.candidate,
                    "added": w.added,
                    "dropped": w.dropped,
                    "reclassed": w.reclassed,
                    "held_out_actual": w.held_out_actual,
                    "held_out_candidate": w.held_out_candidate,
                    "estimated_effect": w.estimated_effect,
                    "effect_metric": w.effect_metric,
                    "effect_ci": list(w.effect_ci) if w.effect_ci else None,
                }
                for name, w in sorted(self.workflows.items())
            },
            "workload": {o: {"actual": a, "candidate": c} for o, (a, c) in sorted(self.workload.items())},
            "runs": [
                {
                    "run_id": r.run_id,
                    "started_at": r.started_at.isoformat(),
                    "actual": r.actual,
                    "candidate": r.candidate,
                    "added": len(r.added),
                    "dropped": len(r.dropped),
                    "reclassed": len(r.reclassed),
                    "seconds": round(r.seconds, 3),
                }
                for r in self.runs
            ],
        }


class _PastStore:
    """A scratch in-memory operational store that replays the real one's audit log up to a moment, with the
    candidate's own proposals laid over it."""

    def __init__(self, source: sa.Engine) -> None:
        self.engine = open_store("sqlite://")
        with source.connect() as con:
            self.rows = {r["action_id"]: dict(r) for r in con.execute(sa.select(actions)).mappings()}
            self.events = con.execute(
                sa.select(
                    action_events.c.action_id, action_events.c.at, action_events.c.to_state, action_events.c.event_id
                ).order_by(action_events.c.event_id)
            ).all()
            self.suppressions = [
                dict(r) for r in con.execute(sa.select(suppressions).order_by(suppressions.c.suppression_id)).mappings()
            ]
            self.switches = [
                dict(r)
                for r in con.execute(sa.select(kill_switch_events).order_by(kill_switch_events.c.event_id)).mappings()
            ]
        self._event, self._suppression, self._switch = 0, 0, 0
        self.present: set[str] = set()
        self.overlay: set[str] = set()  # the candidate's own actions (not in the real queue at that point)
        self.skip: set[str] = set()  # real actions the candidate would not have proposed
        # A real action whose slot the candidate filled differently (another payload, class or holdout): its events
        # move the candidate's version instead (first event: the candidate's own entry state; later ones where legal).
        self.alias: dict[str, str] = {}
        self.alias_rows: dict[str, dict[str, Any]] = {}
        self.alias_state: dict[str, str] = {}

    def advance(self, marks: dict[str, int], cutoff: datetime) -> None:
        """Apply every real change the run saw: up to the last audit event, suppression entry and kill-switch event
        it read (`marks`, by id: insertion order, whatever clock stamped them), else up to the moment `cutoff`."""

        def seen(table: str, row_id: int, at: datetime) -> bool:
            return row_id <= marks[table] if table in marks else at <= cutoff

        inserts: dict[str, dict[str, Any]] = {}
        updates: dict[str, str] = {}
        while self._event < len(self.events):
            action_id, at, to_state, event_id = self.events[self._event]
            if not seen("action_events", event_id, at):
                break
            self._event += 1
            if action_id in self.skip:
                continue
            if action_id in self.alias:
                key = self.alias[action_id]
                row = self.alias_rows[key]
                current = self.alias_state.get(key)
                to_state = row["state"] if current is None else to_state
                if current is not None and not can_move(State(current), State(to_state)):
                    continue
                self.alias_state[key] = to_state
            elif action_id in self.rows:
                key, row = action_id, self.rows[action_id]
            else:
                continue
            if key in inserts:
                inserts[key]["state"] = to_state
            elif key in self.present and key not in self.overlay:
                updates[key] = to_state
            else:  # enters now (a candidate action with the same id gives way to the real one)
                if key in self.overlay:
                    self.overlay.discard(key)
                    with self.engine.begin() as con:
                        con.execute(sa.delete(actions).where(actions.c.action_id == key))
                inserts[key] = {**row, "state": to_state}
        with self.engine.begin() as con:
            if inserts:
                con.execute(sa.insert(actions), list(inserts.values()))
                self.present.update(inserts)
            if updates:
                con.execute(
                    sa.update(actions)
                    .where(actions.c.action_id == sa.bindparam("a_id"))
                    .values(state=sa.bindparam("s")),
                    [{"a_id": a, "s": s} for a, s in updates.items()],
                )
            new = []
            while self._suppression < len(self.suppressions) and seen(
                "suppressions",
                self.suppressions[self._suppression]["suppression_id"],
                self.suppressions[self._suppression]["added_at"],
            ):
                new.append(self.suppressions[self._suppression])
                self._suppression += 1
            if new:
                con.execute(sa.insert(suppressions), new)
            new = []
            while self._switch < len(self.switches) and seen(
                "kill_switch_events", self.switches[self._switch]["event_id"], self.switches[self._switch]["at"]
            ):
                new.append(self.switches[self._switch])
                self._switch += 1
            if new:
                con.execute(sa.insert(kill_switch_events), new)

    def expire_overlay(self, now: datetime) -> None:
        """The candidate's own proposals expire like any (the real ones' expiries are in the audit log)."""
        ids = sorted(self.overlay)
        with self.engine.begin() as con:
            for i in range(0, len(ids), _CHUNK):
                con.execute(
                    sa.update(actions)
                    .where(
                        actions.c.action_id.in_(ids[i : i + _CHUNK]),
                        actions.c.state.in_([s.value for s in NOT_YET_QUEUED]),
                        actions.c.expires_at < now,
                    )
                    .values(state=State.EXPIRED.value)
                )

    def lay_over(
        self,
        added: Iterable[Action],
        dropped_ids: Iterable[str],
        replaced: Iterable[tuple[str, Action]],
        withdrawn: Iterable[str],
        run_id: str,
        now: datetime,
    ) -> None:
        """After a replayed run: the candidate's additions enter the scratch queue, the real actions it would not have
        made never will, the real actions it made differently stand for its versions, and its withdrawals of its own
        proposals apply."""
        self.skip.update(dropped_ids)
        for real_id, action in replaced:
            self.alias[real_id] = action.action_id
            self.alias_rows[action.action_id] = new_action_row(action, run_id, now)[0]
        rows = []
        for action in added:
            if action.action_id in self.present:
                continue
            row, _ = new_action_row(action, run_id, now)
            rows.append(row)
            self.present.add(action.action_id)
            self.overlay.add(action.action_id)
        withdrawn = [a for a in withdrawn if a in self.overlay]
        with self.engine.begin() as con:
            if rows:
                con.execute(sa.insert(actions), rows)
            for i in range(0, len(withdrawn), _CHUNK):
                con.execute(
                    sa.update(actions)
                    .where(actions.c.action_id.in_(withdrawn[i : i + _CHUNK]))
                    .values(state=State.WITHDRAWN.value)
                )

    def close(self) -> None:
        self.engine.dispose()


def _seen(run: dict[str, Any]) -> tuple[dict[str, int], datetime]:
    """What the run read of the store: the last ids of each log (runs planned before they were recorded: none) and
    the moment it read it (else the moment it started)."""
    summary = run.get("summary") or {}
    read_at = summary.get("store_read_at")
    return dict(summary.get("store_read_marks") or {}), (
        datetime.fromisoformat(read_at) if read_at else run["started_at"]
    )


def backtest(
    engine: sa.Engine,
    policy: Policy,
    snapshots: Path,
    since: datetime,
    until: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    effects: EffectSource | None = None,
) -> BacktestReport:
    """Replay every planning run since `since` (with kept inputs) under `policy`; writes nothing to `engine`."""
    started = time.perf_counter()
    report = BacktestReport(policy_version=policy.version, since=since)
    query = sa.select(planner_runs).where(planner_runs.c.started_at >= since).order_by(planner_runs.c.started_at)
    if until is not None:
        query = query.where(planner_runs.c.started_at <= until)
    with engine.connect() as con:
        runs = [dict(r) for r in con.execute(query).mappings()]
    past = _PastStore(engine)
    by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in past.rows.values():
        if row["run_id"] is not None:
            by_run[row["run_id"]].append(row)
    workload_actual: Counter = Counter()
    workload_candidate: Counter = Counter()
    replayable = [r for r in runs if has_snapshot(snapshots, r["run_id"])]
    report.skipped = [(r["run_id"], "its planner inputs were not kept") for r in runs if r not in replayable]
    try:
        for n, run in enumerate(replayable, 1):
            began = time.perf_counter()
            inputs, meta = read_snapshot(snapshots, run["run_id"])
            now = datetime.fromisoformat(meta["now"])
            past.advance(*_seen(run))
            past.expire_overlay(now)
            result = plan(inputs, policy, StoreView.read(past.engine, policy, now), now=now, run_id=run["run_id"])
            actual = {row["slot_key"]: row for row in by_run.get(run["run_id"], [])}
            # An action already in the queue is not proposed again (the queue keeps the first: `DecisionQueue.add`).
            mine = {a.slot_key: a for a in result.actions if a.action_id not in past.present}
            added = [a for slot, a in mine.items() if slot not in actual]
            dropped = [row for slot, row in actual.items() if slot not in mine]
            reclassed = [
                (actual[slot], a)
                for slot, a in mine.items()
                if slot in actual and actual[slot]["risk_class"] != a.risk_class
            ]
            for row in actual.values():
                w = report.workflows.setdefault(row["workflow"], WorkflowBacktest(row["workflow"]))
                w.actual += 1
                w.held_out_actual += _held_at_birth(row)
                if not _held_at_birth(row) and row["owner"]:
                    workload_actual[row["owner"]] += 1
            for a in mine.values():
                w = report.workflows.setdefault(a.workflow.value, WorkflowBacktest(a.workflow.value))
                w.candidate += 1
                w.held_out_candidate += a.holdout is not None
                if a.holdout is None and a.owner:
                    workload_candidate[a.owner] += 1
            for a in added:
                report.workflows[a.workflow.value].added += 1
            for row in dropped:
                report.workflows[row["workflow"]].dropped += 1
            for row, a in reclassed:
                w = report.workflows[a.workflow.value]
                w.reclassed += 1
                w.reclass_examples[f"{a.action_type} {row['risk_class']} -> {a.risk_class.value}"] += 1
            replaced = [
                (actual[slot]["action_id"], a)
                for slot, a in mine.items()
                if slot in actual and _key(a) != _row_key(actual[slot])
            ]
            withdrawn = [a for a, _ in result.withdrawals]
            past.lay_over(added, [row["action_id"] for row in dropped], replaced, withdrawn, run["run_id"], now)
            same = {_key(a) for a in mine.values()} == {_row_key(r) for r in actual.values()}
            report.runs.append(
                RunBacktest(
                    run_id=run["run_id"],
                    started_at=run["started_at"],
                    actual=len(actual),
                    candidate=len(mine),
                    added=added,
                    dropped=dropped,
                    reclassed=reclassed,
                    same_ids=same,
                    seconds=time.perf_counter() - began,
                )
            )
            if progress is not None:
                progress(
                    f"run {n}/{len(replayable)} ({run['started_at']:%Y-%m-%d %H:%M} UTC): {len(actual):,} proposed, "
                    f"candidate {len(mine):,} (+{len(added):,} -{len(dropped):,} ~{len(reclassed):,}) "
                    f"in {time.perf_counter() - began:.1f} s"
                )
    finally:
        past.close()
    owners = set(workload_actual) | set(workload_candidate)
    report.workload = {o: (workload_actual[o], workload_candidate[o]) for o in owners}
    if effects is not None:
        for name, w in report.workflows.items():
            effect = effects(name)
            if effect is not None:
                w.estimated_effect = w.treated_delta * effect.lift
                w.effect_metric = effect.metric
                w.effect_ci = (w.treated_delta * effect.ci_low, w.treated_delta * effect.ci_high)
    report.seconds = time.perf_counter() - started
    return report


def _key(action: Action) -> tuple[str, str, bool]:
    """What must match for a replayed proposal to be the one made: id (slot and payload), class, held out or not."""
    return action.action_id, action.risk_class.value, action.holdout is not None


def _row_key(row: dict[str, Any]) -> tuple[str, str, bool]:
    return row["action_id"], row["risk_class"], _held_at_birth(row)


def _held_at_birth(row: dict[str, Any]) -> bool:
    """A real action recorded as held out (its state never changes afterwards)."""
    return row["state"] == State.HELD_OUT.value


# The outcome marts' lift per workflow (dbt `marts/outcomes/fct_workflow_lift`, docs/outcomes.md "Lift"): one row per
# workflow and outcome with `lift`, `lift_ci_low`, `lift_ci_high` per treated target. Absent or no lift yet: no effect.
LIFT_TABLE = "marts.fct_workflow_lift"


def warehouse_effects(con: Any, table: str = LIFT_TABLE) -> EffectSource:
    """An `EffectSource` over the warehouse's lift table (a DuckDB connection); none when the table is missing or a
    workflow has no lift with an interval yet (no held-out or no treated actions)."""
    import duckdb

    try:
        rows = con.execute(
            f"select workflow, outcome, lift, lift_ci_low, lift_ci_high from {table} order by workflow, outcome"
        ).fetchall()
    except duckdb.Error:
        rows = []
    found = {}
    for workflow, outcome, lift, low, high in rows:
        if None not in (lift, low, high) and workflow not in found:
            found[workflow] = Effect(metric=outcome, lift=float(lift), ci_low=float(low), ci_high=float(high))
    return found.get
