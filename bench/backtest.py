"""Policy backtest benchmark: a week of hourly planning runs at N contacts, then its replay.

    python -m bench.backtest --contacts 10000 --hours 168 [--warehouse data/warehouse.duckdb]

The planner inputs are the warehouse's (`--warehouse`, read once) or synthesised at the sample world's shape
(`bench.actions.synthetic_inputs`); each simulated hour moves the data's as-of on by an hour, keeps the inputs as the
Dagster asset does (`actions.snapshots`), plans and writes a scratch SQLite operational store, and a scripted approver
approves the first 5 waiting actions. Then the policy in use is backtested over every run. Ends with one line:
`bench-backtest contacts=… runs=… snapshot_kb_per_run=… snapshots_mb=… history_seconds=… backtest_seconds=…
backtest_seconds_per_run=… reproduced=…`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from actions.backtest import backtest
from actions.planner import StoreView, apply_plan, plan
from actions.policy import load_policy
from actions.queue import DecisionQueue, QueueError
from actions.snapshots import total_bytes, write_snapshot
from ops_store import open_store
from ops_store.schema import utc_now


def _inputs(contacts: int, warehouse: str | None):
    if warehouse:
        from actions.inputs import load_inputs
        from landing.warehouse import connect

        con = connect(Path(warehouse), read_only=True)
        try:
            return load_inputs(con)
        finally:
            con.close()
    from bench.actions import synthetic_inputs

    return synthetic_inputs(contacts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--hours", type=int, default=168)
    parser.add_argument("--warehouse", help="plan on this warehouse's inputs instead of synthetic ones")
    args = parser.parse_args(argv)
    policy = load_policy()
    base = _inputs(args.contacts, args.warehouse)
    contacts = base.contacts.height
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        engine = open_store(f"sqlite:///{Path(tmp) / 'ops.sqlite'}")
        root = Path(tmp) / "planner_snapshots"
        start = utc_now() - timedelta(hours=args.hours + 1)
        began = time.perf_counter()
        for hour in range(args.hours):
            now = start + timedelta(hours=hour)
            world = replace(base, as_of=base.as_of + timedelta(hours=hour))
            DecisionQueue(engine, policy, clock=lambda now=now: now).expire_due()
            write_snapshot(root, f"run-{hour:04d}", world, now)
            result = plan(world, policy, StoreView.read(engine, policy, now), now=now, run_id=f"run-{hour:04d}")
            apply_plan(result, engine, policy)
            queue = DecisionQueue(engine, policy)
            for item in queue.list(states=["proposed"], limit=5):
                try:
                    queue.approve(item.action_id, actor="Ada Admin", note="bench approver: first 5 waiting")
                except QueueError:
                    continue
            if (hour + 1) % 24 == 0:
                print(f"[bench-backtest] simulated {hour + 1}/{args.hours} hours", flush=True)
        history = time.perf_counter() - began
        size = total_bytes(root)
        report = backtest(
            engine,
            policy,
            root,
            since=start - timedelta(minutes=1),
            progress=lambda line: print(f"[bench-backtest] {line}", flush=True) if "/" in line else None,
        )
        engine.dispose()
    runs = len(report.runs)
    print(
        f"bench-backtest contacts={contacts} runs={runs} snapshot_kb_per_run={size / 1024 / max(1, args.hours):.0f} "
        f"snapshots_mb={size / 1024 / 1024:.1f} history_seconds={history:.1f} backtest_seconds={report.seconds:.1f} "
        f"backtest_seconds_per_run={report.seconds / max(1, runs):.2f} actions={report.totals()['actual']} "
        f"reproduced={'yes' if report.reproduced else 'no'}",
        flush=True,
    )


if __name__ == "__main__":
    main()
