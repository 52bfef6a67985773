"""`actionhouse queue | policy | suppress | kill-switch`: the decision queue and its guardrails from a terminal."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from datetime import timedelta
from typing import Any

from landing.warehouse import connect as connect_warehouse
from orchestration.settings import resolve_paths


def _say(message: str) -> None:
    print(f"[actionhouse] {message}", flush=True)


def _engine():
    from ops_store import open_store, ops_db_url_from_env

    return open_store(ops_db_url_from_env(resolve_paths().data_dir))


def _policy(path: str | None = None):
    from actions.policy import load_policy

    return load_policy(path)


def _queue():
    from actions.queue import DecisionQueue

    return DecisionQueue(_engine(), _policy())


def _short(action_id: str) -> str:
    return action_id[:12]


def _when(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment is not None else "-"


# ---- queue --------------------------------------------------------------------------------------------------
def cmd_queue_list(args: argparse.Namespace) -> int:
    queue = _queue()
    states = [args.state] if args.state else None
    items = queue.list(workflow=args.workflow, states=states, owner=args.owner, risk_class=args.risk, limit=args.limit)
    if not items:
        _say("No actions match.")
        return 0
    print(f"{'id':<13}{'workflow':<15}{'action':<21}{'class':<9}{'state':<10}{'owner':<18}target")
    for item in items:
        print(
            f"{_short(item.action_id):<13}{item.workflow:<15}{item.action_type:<21}{item.risk_class.value:<9}"
            f"{item.state.value:<10}{(item.owner or '-')[:17]:<18}{(item.target_label or item.target_id)[:60]}"
        )
    shown = len(items)
    print(f"{shown} shown" + (f" (first {args.limit}; --limit N for more)" if shown == args.limit else ""))
    return 0


def _who_decides(item, policy) -> str:
    if item.risk_class.value == "auto":
        return "runs without review (auto)"
    if item.risk_class.value == "never":
        return "context for a person: never executed"
    group = policy.approver_group(item.action_type)
    if group == "owner":
        return f"decided by its owner ({item.owner or 'none yet'}) or an admin"
    people = ", ".join(policy.approvers.groups.get(group, []))
    return f"decided by the {group} group ({people}) or an admin"


def _draft_lines(payload: dict[str, Any]) -> list[str]:
    """A grounded draft as it would read, and the field -> value map it was filled from (none: no lines)."""
    if not payload or "field_map" not in payload or payload.get("body") is None:
        return []
    lines = [f"Draft (template {payload.get('template')}):", f"  Subject: {payload.get('subject')}"]
    lines += [f"  | {line}" for line in str(payload["body"]).splitlines()]
    lines.append("Field map (every value in the draft, and the field it came from):")
    lines += [f"  {name:<22}= {value}" for name, value in sorted(payload["field_map"].items())]
    return lines


def explain(item, policy, events: list[dict[str, Any]]) -> str:
    """The explain rail of one action, as text."""
    from actions.catalog import ACTION_TYPES

    lines = [
        f"Action {item.action_id}",
        f"  {item.action_type}: {ACTION_TYPES[item.action_type].does}",
        f"  workflow {item.workflow} · risk class {item.risk_class.value} · state {item.state.value}"
        + (f" ({item.state_reason})" if item.state_reason else ""),
        f"Target: {item.target_kind} {item.target_id} — {item.target_label or ''}",
        "  CRM records: "
        + (", ".join(f"{r['object_type']} {r['record_id']}" for r in item.target_crm_ids) or "none yet"),
        f"Owner: {item.owner or '-'} · " + _who_decides(item, policy),
        "Why:",
        *(f"  {i}. {reason}" for i, reason in enumerate(item.reasons, 1)),
        "Evidence:",
        f"  {'source table':<34}{'key':<22}{'field':<26}{'value':<46}time",
    ]
    for row in item.evidence:
        value = "" if row.get("value") is None else str(row["value"])
        lines.append(
            f"  {row['source_table']:<34}{str(row['key'])[:21]:<22}{row['field'][:25]:<26}{value[:45]:<46}"
            f"{(row.get('observed_at') or '')[:16]}"
        )
    lines.append("Policy:")
    for verdict in item.policy_verdicts:
        lines.append(f"  {verdict['rule']:<40}{verdict['verdict']:<9}{verdict['detail']}")
    lines += _draft_lines(item.edited_payload or item.payload)
    lines.append("Payload: " + json.dumps(item.payload, sort_keys=True, ensure_ascii=False))
    if item.edited_payload:
        lines.append("Edited:  " + json.dumps(item.edited_payload, sort_keys=True, ensure_ascii=False))
    lines += [
        f"Versions: model {item.model_version or '-'} · policy {item.policy_version}",
        f"KPI: {item.kpi}",
        f"Proposed {_when(item.proposed_at)} (data as of {_when(item.as_of)}); expires {_when(item.expires_at)}",
        "History:",
    ]
    for event in events:
        note = f" — {event['note']}" if event["note"] else ""
        lines.append(
            f"  {_when(event['at'])}  {event['actor']:<16} {event['event']:<14}"
            f"{event['from_state'] or '':>9} -> {event['to_state']}{note}"
        )
    return "\n".join(lines)


def cmd_queue_show(args: argparse.Namespace) -> int:
    from actions.queue import QueueError

    queue = _queue()
    try:
        item = queue.find(args.id)
    except QueueError as exc:
        _say(str(exc))
        return 2
    print(explain(item, queue.policy, queue.events(item.action_id)))
    return 0


def _parse_filter(text: str) -> dict[str, str]:
    allowed = {"workflow", "owner", "risk", "risk_class", "action_type", "type"}
    out = {}
    for part in text.split(","):
        if "=" not in part:
            raise ValueError(f"filter '{part}' is not key=value (keys: workflow, owner, risk, type)")
        key, value = (p.strip() for p in part.split("=", 1))
        if key not in allowed:
            raise ValueError(f"unknown filter key '{key}' (keys: workflow, owner, risk, type)")
        out[{"risk": "risk_class", "type": "action_type"}.get(key, key)] = value
    return out


def cmd_queue_decide(args: argparse.Namespace) -> int:
    from actions.queue import QueueError

    queue = _queue()
    if args.decision == "approve" and args.filter:
        if args.id:
            _say("Give an action id or --filter, not both.")
            return 2
        try:
            filters = _parse_filter(args.filter)
        except ValueError as exc:
            _say(str(exc))
            return 2
        result = queue.bulk_approve(args.actor, note=args.note, **filters)
        _say(f"Approved {len(result.approved)} action(s) as {args.actor}.")
        for reason, count in Counter(reason for _, reason in result.skipped).most_common():
            _say(f"Not approved ({count}): {reason}")
        return 0 if result.approved or not result.skipped else 1
    if not args.id:
        _say(
            "Which action? Give its id (the first characters are enough)"
            + (" or --filter." if args.decision == "approve" else ".")
        )
        return 2
    try:
        item = queue.find(args.id)
        decide = queue.approve if args.decision == "approve" else queue.reject
        done = decide(item.action_id, actor=args.actor, note=args.note, seen_version=item.row_version)
    except QueueError as exc:
        _say(str(exc))
        return 1
    _say(f"{done.action_id}: {done.state.value} by {args.actor}.")
    return 0


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def cmd_queue_edit(args: argparse.Namespace) -> int:
    from actions.queue import QueueError

    changes = {}
    for assignment in args.set:
        if "=" not in assignment:
            _say(f"--set '{assignment}' is not field=value")
            return 2
        name, value = assignment.split("=", 1)
        changes[name.strip()] = _parse_value(value)
    queue = _queue()
    try:
        item = queue.find(args.id)
        done = queue.edit(
            item.action_id, actor=args.actor, changes=changes, note=args.note, seen_version=item.row_version
        )
    except QueueError as exc:
        _say(str(exc))
        return 1
    _say(f"{done.action_id}: edited by {args.actor}; it now waits for an approval (`actionhouse queue approve`).")
    return 0


def cmd_queue_split(args: argparse.Namespace) -> int:
    from actions.queue import QueueError

    queue = _queue()
    try:
        item = queue.find(args.id)
        queue.record_split(item.action_id, actor=args.actor, reason=args.reason)
    except QueueError as exc:
        _say(str(exc))
        return 1
    _say(
        f"{item.action_id}: recorded as split by {args.actor} (the merge was wrong); it counts in the incorrect "
        "merge rate from the next refresh."
    )
    return 0


def queue_summary_lines(counts: list[dict[str, Any]]) -> list[str]:
    """`actions: N proposed (auto a, approve b, never c) — routing x, ...` and a line per state."""
    from actions.planner import workflow_label

    total = sum(c["actions"] for c in counts)
    by_risk = Counter()
    by_workflow = Counter()
    by_state = Counter()
    for c in counts:
        by_risk[c["risk_class"]] += c["actions"]
        by_workflow[c["workflow"]] += c["actions"]
        by_state[c["state"]] += c["actions"]
    risks = ", ".join(f"{r} {by_risk[r]:,}" for r in ("auto", "approve", "never") if by_risk[r])
    if by_state["held_out"]:  # recorded for the holdout groups, never executed (docs/outcomes.md)
        risks += f"; held out {by_state['held_out']:,}"
    flows = ", ".join(f"{workflow_label(w)} {n:,}" for w, n in by_workflow.most_common())
    states = ", ".join(f"{s} {n:,}" for s, n in by_state.most_common())
    return [f"actions: {total:,} proposed ({risks}) — {flows}", f"actions by state: {states}"]


def cmd_queue_summary(args: argparse.Namespace) -> int:
    for line in queue_summary_lines(_queue().counts()):
        print(line)
    return 0


# ---- policy -------------------------------------------------------------------------------------------------
def cmd_policy_check(args: argparse.Namespace) -> int:
    from actions.policy import PolicyError, policy_path

    path = args.file or str(policy_path())
    try:
        policy = _policy(path)
    except PolicyError as exc:
        print(str(exc))
        _say(f"{path}: {len(exc.problems)} problem(s); the policy was not accepted.")
        return 1
    _say(f"{path}: valid (policy {policy.version}).")
    return 0


def cmd_policy_diff(args: argparse.Namespace) -> int:
    import duckdb

    from actions.inputs import load_inputs
    from actions.planner import StoreView, compare_policies
    from actions.policy import PolicyError
    from ops_store.schema import utc_now

    try:
        current, candidate = _policy(), _policy(args.file)
    except PolicyError as exc:
        print(str(exc))
        return 1
    warehouse = resolve_paths().warehouse
    try:
        con = connect_warehouse(warehouse, read_only=True, wait_seconds=10)
    except duckdb.IOException:
        _say(f"The warehouse {warehouse} is being written by a refresh; run the diff again when it ends.")
        return 2
    try:
        inputs = load_inputs(con)
    finally:
        con.close()
    now = utc_now()
    engine = _engine()
    diff = compare_policies(inputs, current, candidate, StoreView.read(engine, current, now), now)
    _say(f"Current policy {current.version} vs {args.file} ({candidate.version}), on data as of {_when(inputs.as_of)}:")
    for title, items in (("would add", diff.added), ("would drop", diff.dropped)):
        per = Counter(f"{a.workflow.value}/{a.action_type}" for a in items)
        print(f"{title}: {len(items):,}" + ("".join(f"\n  {k}: {n:,}" for k, n in per.most_common())))
        for action in items[: args.examples]:
            print(f"    e.g. {action.target.label or action.target.id}: {action.reasons[0]}")
    per = Counter(f"{a.action_type} {a.risk_class.value} -> {b.risk_class.value}" for a, b in diff.reclassed)
    print(f"would re-class: {len(diff.reclassed):,}" + "".join(f"\n  {k}: {n:,}" for k, n in per.most_common()))
    print(f"unchanged: {diff.unchanged:,}")
    _say("Nothing was written: the queue and the suppression list are as they were.")
    return 0


def parse_since(text: str) -> timedelta:
    """`7d`, `36h`, `2w` -> a time span."""
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([hdw])\s*", text or "")
    if not match:
        raise ValueError(f"--since '{text}' is not a span like 7d, 36h or 2w")
    value, unit = float(match.group(1)), match.group(2)
    return timedelta(hours=value) if unit == "h" else timedelta(days=value * (7 if unit == "w" else 1))


def cmd_policy_backtest(args: argparse.Namespace) -> int:
    import duckdb

    from actions.backtest import backtest, warehouse_effects
    from actions.policy import PolicyError
    from actions.snapshots import snapshot_root
    from ops_store.schema import utc_now

    try:
        candidate = _policy(args.file)
        span = parse_since(args.since)
    except PolicyError as exc:
        print(str(exc))
        return 1
    except ValueError as exc:
        _say(str(exc))
        return 2
    since = utc_now() - span
    effects = None
    try:
        con = connect_warehouse(resolve_paths().warehouse, read_only=True, wait_seconds=5)
    except (duckdb.Error, OSError):
        con = None  # no warehouse (or a refresh holds it): no measured lift to estimate effects with
    if con is not None:
        try:
            effects = warehouse_effects(con)
        finally:
            con.close()
    progress = None if args.json else (lambda line: _say(line))
    if not args.json:
        _say(f"Backtest of {args.file} ({candidate.version}) over the planning runs since {_when(since)}:")
    report = backtest(
        _engine(), candidate, snapshot_root(resolve_paths().data_dir), since, progress=progress, effects=effects
    )
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True))
        return 0
    for line in report.lines():
        print(line)
    if report.skipped:
        _say(f"{len(report.skipped)} run(s) not replayed: their planner inputs were not kept (older than kept).")
    _say(
        f"backtest runs={len(report.runs)} seconds={report.seconds:.1f} "
        f"reproduced={'yes' if report.reproduced else 'no'} (yes: the candidate proposes exactly what was proposed)"
    )
    _say("Nothing was written: the queue, the suppression list and the CRM are as they were.")
    return 0


# ---- suppression & kill switch ------------------------------------------------------------------------------
def cmd_suppress_add(args: argparse.Namespace) -> int:
    from actions.suppression import SuppressionEntry, SuppressionList

    value = args.value.strip()
    kind = "email" if "@" in value.strip("@") else "domain"
    entry = SuppressionEntry(kind=kind, value=value, reason=args.reason, source="cli", scope=args.scope)
    added = SuppressionList(_engine()).add(entry, added_by=args.actor)
    if added:
        _say(
            f"Suppressed {kind} {value.lower()} ({args.scope}): {args.reason}. It overrides every workflow from now on."
        )
    else:
        _say(f"{value.lower()} is already suppressed for that reason; nothing added (the list keeps the first entry).")
    return 0


def cmd_suppress_list(args: argparse.Namespace) -> int:
    from actions.suppression import SuppressionList

    suppressions = SuppressionList(_engine())
    rows = suppressions.entries(value=args.value, limit=args.limit)
    print(f"{'added':<18}{'kind':<8}{'value':<40}{'scope':<13}{'reason':<18}{'by':<14}source")
    for row in rows:
        print(
            f"{row['added_at']:%Y-%m-%d %H:%M}  {row['kind']:<8}{row['value'][:39]:<40}{row['scope']:<13}"
            f"{row['reason']:<18}{row['added_by'][:13]:<14}{row['source']}"
        )
    print(f"{len(rows)} shown of {suppressions.count():,} on the list")
    return 0


def cmd_kill_switch(args: argparse.Namespace) -> int:
    from actions.kill_switch import KillSwitch

    policy = _policy()
    switch = KillSwitch(_engine(), policy.kill_switch.default)
    if args.state == "status":
        state = switch.state()
        since = f" since {_when(state.at)} by {state.actor}: {state.reason}" if state.at else " (policy default)"
        _say(f"Kill switch is {'ON: every send is paused' if state.on else 'off'}{since}.")
        for event in switch.history()[-args.history :] if args.history else []:
            print(f"  {_when(event['at'])}  {event['state']:<4}{event['actor']:<18}{event['reason']}")
        return 0
    if not args.actor or not args.reason:
        _say("Switching needs --as NAME and --reason TEXT (both are kept in its history).")
        return 2
    state = switch.set(args.state == "on", actor=args.actor, reason=args.reason)
    _say(
        f"Kill switch {'ON: every send is paused' if state.on else 'off: sends may resume'} "
        f"({args.actor}: {args.reason})."
    )
    return 0


def add_action_commands(subparsers) -> None:
    """Register `queue`, `policy`, `suppress` and `kill-switch` on the `actionhouse` parser."""
    queue = subparsers.add_parser(
        "queue", help="the decision queue: list, show (explain rail), approve, reject, edit, split"
    )
    qs = queue.add_subparsers(dest="queue_command", required=True)
    listing = qs.add_parser("list", help="actions in the queue (newest first)")
    listing.add_argument("--workflow")
    listing.add_argument(
        "--state", help="proposed, edited, approved, rejected, expired, withdrawn, queued, sent, held_out, ..."
    )
    listing.add_argument("--owner")
    listing.add_argument("--risk", help="auto, approve or never")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=cmd_queue_list)
    show = qs.add_parser("show", help="one action with its explain rail: reasons, evidence, policy verdicts, history")
    show.add_argument("id", help="action id (its first characters are enough)")
    show.set_defaults(func=cmd_queue_show)
    for decision in ("approve", "reject"):
        sp = qs.add_parser(
            decision, help=f"{decision} an action" + (" (or many, with --filter)" if decision == "approve" else "")
        )
        sp.add_argument("id", nargs="?", help="action id (its first characters are enough)")
        sp.add_argument("--as", dest="actor", required=True, help="your name, as the policy's approvers list it")
        sp.add_argument("--note")
        if decision == "approve":
            sp.add_argument(
                "--filter", help="bulk: workflow=W,owner=O,risk=R,type=T (refused for types the policy forbids)"
            )
        sp.set_defaults(func=cmd_queue_decide, decision=decision)
    edit = qs.add_parser("edit", help="change payload fields; the edit then waits for an approval")
    edit.add_argument("id")
    edit.add_argument("--as", dest="actor", required=True)
    edit.add_argument("--set", action="append", required=True, metavar="FIELD=VALUE")
    edit.add_argument("--note")
    edit.set_defaults(func=cmd_queue_edit)
    split = qs.add_parser(
        "split", help="record that a merge Actionhouse sent was wrong (a person split the records again)"
    )
    split.add_argument("id", help="action id of the sent merge (its first characters are enough)")
    split.add_argument("--reason", required=True, help="why the merge was wrong (kept in the audit log)")
    split.add_argument("--as", dest="actor", required=True, help="your name, as the policy's approvers list it")
    split.set_defaults(func=cmd_queue_split)
    summary = qs.add_parser("summary", help="counts per workflow, risk class and state")
    summary.set_defaults(func=cmd_queue_summary)

    policy = subparsers.add_parser("policy", help="the policy file: check it, see what a change would do")
    ps = policy.add_subparsers(dest="policy_command", required=True)
    check = ps.add_parser("check", help="validate a policy file (default: the one in use); names each bad line")
    check.add_argument("file", nargs="?")
    check.set_defaults(func=cmd_policy_check)
    diff = ps.add_parser("diff", help="which current proposals FILE would add, drop or re-class (writes nothing)")
    diff.add_argument("file")
    diff.add_argument("--examples", type=int, default=3, help="examples shown per list")
    diff.set_defaults(func=cmd_policy_diff)
    back = ps.add_parser(
        "backtest",
        help="replay past planning runs under FILE: proposals added, dropped, re-classed, workload (writes nothing)",
    )
    back.add_argument("file")
    back.add_argument("--since", default="7d", help="how far back: 7d (default), 36h, 2w")
    back.add_argument("--json", action="store_true", help="the report as JSON (no progress lines)")
    back.set_defaults(func=cmd_policy_backtest)

    suppress = subparsers.add_parser("suppress", help="the global suppression list (append-only)")
    ss = suppress.add_subparsers(dest="suppress_command", required=True)
    add = ss.add_parser("add", help="suppress an email or a whole domain")
    add.add_argument("value", metavar="EMAIL|DOMAIN")
    add.add_argument("--reason", required=True)
    add.add_argument("--scope", choices=("all", "prospecting"), default="all")
    add.add_argument("--as", dest="actor", default="cli", help="your name (kept with the entry)")
    add.set_defaults(func=cmd_suppress_add)
    listing = ss.add_parser("list", help="entries, oldest first")
    listing.add_argument("--value", help="only this email or domain")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(func=cmd_suppress_list)

    kill = subparsers.add_parser("kill-switch", help="pause every send at once (or resume); history kept")
    kill.add_argument("state", choices=("on", "off", "status"))
    kill.add_argument("--as", dest="actor")
    kill.add_argument("--reason")
    kill.add_argument("--history", type=int, default=5, help="with status: show the last N switches")
    kill.set_defaults(func=cmd_kill_switch)
