"""The closed loop, measured (`make eval-loop`): does each workflow's lift, as the outcome marts measure it, match
the true lift the sample world was given?

    python -m evaluation.loop [--contacts 100000] [--days 14] [--seed 11] [--holdout-share 0.5]

A sample world is generated (seed 11: no threshold was tuned on it) and the whole product runs against it for a
simulated period, one day per step (docs/outcomes.md, "The closed-loop evaluation"):

1. the world lives 24 more hours (`generate_next_hours`): it reads what the sync engine wrote to the sandbox CRM since
   it last looked and answers it — meetings, renewals, reschedules, replies — from hidden state and the actions;
2. the refresh job runs (ingest, gates, dbt, scores, the planner into the decision queue), on the operational clock
   of the world (`ACTIONHOUSE_CLOCK_OFFSET_SECONDS`): proposals, expiries and caps fall in the world's time;
3. the scripted approver (`APPROVER`, an admin) approves every action waiting for a decision — one decision a day,
   nothing rejected — so every proposal outside the holdout group is treated;
4. the approvals sync job sends them to the sandbox CRM.

The policy is the default one with the holdout share of every measured workflow set to `--holdout-share` (default
0.5: equal groups give the narrowest interval for a given number of targets). After the last day the lifts are read
from `marts.fct_workflow_lift` and compared with the true ones, computed from the world's truth (`true_lifts`), and
the policy in use is backtested over the last 7 simulated days. Ends with one line:
`eval-loop days=… actions_sent=… holdout_share=… lift_meetings=… lift_meetings_ci_low=… … backtest_seconds=…`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from math import sqrt
from pathlib import Path
from statistics import NormalDist

import duckdb
import polars as pl
import yaml

from ops_store.clock import CLOCK_OFFSET_ENV

DEFAULT_SEED = 11  # not a seed any threshold was tuned on
APPROVER = "Ada Admin"  # an admin of the default policy: may decide every action type
# The workflows held out in this evaluation: the default policy's six and reply routing (a positive reply answered
# the same day), the workflow whose touches this world's meetings answer most.
MEASURED = ("reply_routing", "lead_routing", "sla", "sequences", "at_risk", "no_show", "meetings")
# What the line reports: the meeting lift of reply routing (a timely first touch on a positive reply), the renewal
# lift of at-risk saves, and the workflow the world gives no effect (a meeting proposal to someone who asked for one).
MEETINGS_WORKFLOW, SAVES_WORKFLOW, ZERO_EFFECT_WORKFLOW = "reply_routing", "at_risk", "meetings"
# The intervals checked against the true lifts hold all of them at once with this confidence (Bonferroni: each at
# 1 - (1 - this) / k for k intervals). Nine 95% intervals all hold their true values in only ~63% of runs.
FAMILY_CONFIDENCE = 0.95


def say(line: str) -> None:
    print(f"[eval-loop] {line}", flush=True)


def eval_policy(path: Path, share: float) -> Path:
    """The default policy with every measured workflow's holdout share set to `share`, written to `path`."""
    from actions.policy import DEFAULT_POLICY_PATH, load_policy

    data = yaml.safe_load(Path(DEFAULT_POLICY_PATH).read_text(encoding="utf-8"))
    data.setdefault("holdouts", {}).setdefault("seed", "actionhouse-eval-loop")
    data["holdouts"]["shares"] = {workflow: share for workflow in MEASURED}
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    load_policy(path)  # validated like any policy file
    return path


def world_clock(data_dir: Path) -> datetime:
    """The sample world's clock (the end of its last generated hour)."""
    state = json.loads((data_dir / "truth" / "world_state.json").read_text())
    return datetime.fromtimestamp(state["clock_epoch"], tz=UTC)


def simulated_days(data_dir: Path) -> float:
    """How many days the world lived after it was generated (its next-hour mode's hours / 24)."""
    return json.loads((data_dir / "truth" / "world_state.json").read_text())["hour"] / 24


def set_clock(data_dir: Path) -> datetime:
    """Put the operational clock at the world's clock (the offset every part of Actionhouse reads)."""
    now = world_clock(data_dir)
    os.environ[CLOCK_OFFSET_ENV] = f"{(now - datetime.now(UTC)).total_seconds():.3f}"
    return now


def approve_waiting(engine, policy, actor: str = APPROVER) -> int:
    """The scripted approver's rule: approve every action waiting for a decision (proposed or edited), oldest
    first; reject nothing. Returns how many were approved."""
    from actions.queue import DecisionQueue, QueueError
    from actions.states import AWAITING_DECISION

    queue = DecisionQueue(engine, policy)
    approved = 0
    for item in reversed(queue.list(states=[s.value for s in AWAITING_DECISION], limit=None)):
        try:
            queue.approve(item.action_id, actor=actor, note="eval-loop approver: approves every waiting action")
            approved += 1
        except QueueError:
            continue
    return approved


# --------------------------------------------------------------------------------------------- the true lift
# The world's situations whose outcome each lift outcome counts: a meeting comes of a follow-up trigger or of a
# rescheduled no-show; a renewal of the renewal deal.
OUTCOME_SITUATIONS = {"meeting_booked": ("follow_up_trigger", "no_show"), "renewed": ("renewal",)}


def true_lifts(units: pl.DataFrame, resolved: pl.DataFrame) -> dict[str, float]:
    """The lift the world truly gave each workflow's two groups: the mean true probability of the outcome among the
    treated units minus the same among the held-out ones.

    `units`: one row per (treated or held-out action of `marts.fct_lift_decisions`, world person or account it
    reaches): action_id, workflow, lift_group, lift_unit, outcome, proposed_at (epoch s), window_days, person_id,
    account_id. Units are counted as `marts.fct_workflow_lift` counts them: the actions of one lift unit in one group
    are one unit (a missing lift_unit: the action alone). A unit's probability is 1 - prod(1 - p) over the world's
    situations of its people (its account for renewals) that resolved within any of its actions' windows by the end
    of the run, `p` being what the world drew the outcome with (every action taken included: the held out get what
    other workflows did for them, as the measurement does). The measured lift estimates this figure; its 95%
    interval should cover it in about 95% of runs.
    """
    units = units.with_columns(pl.coalesce("lift_unit", "action_id").alias("lift_unit"))
    sits = resolved.select("situation_id", "situation_kind", "person_id", "account_id", "resolves_at", "p")
    unit_key = ["workflow", "lift_group", "lift_unit"]
    parts = []
    for outcome, kinds in OUTCOME_SITUATIONS.items():
        key = "account_id" if outcome == "renewed" else "person_id"
        mine = units.filter((pl.col("outcome") == outcome) & pl.col(key).is_not_null())
        parts.append(
            mine.join(sits.filter(pl.col("situation_kind").is_in(kinds)), on=key, how="inner")
            .filter(
                (pl.col("resolves_at") > pl.col("proposed_at"))
                & (pl.col("resolves_at") <= pl.col("proposed_at") + pl.col("window_days") * 86_400)
            )
            .select(*unit_key, "situation_id", "p")
        )
    hit = pl.concat(parts).unique([*unit_key, "situation_id"])
    chance = hit.group_by(unit_key).agg((1 - (1 - pl.col("p")).product()).alias("p_outcome"))
    per_unit = (
        units.select(unit_key)
        .unique()
        .join(chance, on=unit_key, how="left")
        .with_columns(pl.col("p_outcome").fill_null(0.0))
    )
    rates = per_unit.group_by("workflow", "lift_group").agg(pl.col("p_outcome").mean())
    out: dict[str, float] = {}
    for workflow in rates["workflow"].unique().to_list():
        groups = dict(rates.filter(pl.col("workflow") == workflow).select("lift_group", "p_outcome").iter_rows())
        if "treated" in groups and "held_out" in groups:
            out[workflow] = groups["treated"] - groups["held_out"]
    return out


def lift_units(con: duckdb.DuckDBPyConnection, work_dir: Path) -> pl.DataFrame:
    """Treated and held-out actions of `marts.fct_lift_decisions` with the world's people (meeting outcomes: contact
    and lead targets, through the golden record's CRM records or the lead's submission) or account (renewals: the
    action's golden account, through its company records)."""
    from sample_world import load_truth

    decisions = con.sql(
        "select l.action_id, l.workflow, l.lift_group, l.lift_unit, l.outcome, l.target_kind, l.target_id, "
        "case when l.target_kind = 'account' then l.target_id else d.account_id end as golden_account_id, "
        "epoch(l.proposed_at)::bigint as proposed_at, l.window_days from marts.fct_lift_decisions as l "
        "join staging.stg_actionhouse__decisions as d using (action_id)"
    ).pl()
    record_person = load_truth(work_dir, "contacts").select("record_id", "person_id")
    golden_person = (
        con.sql(
            "select golden_contact_id as target_id, source_record_id as record_id from marts.contact_crosswalk "
            "where source_system = 'hubspot'"
        )
        .pl()
        .join(record_person, on="record_id")
        .select("target_id", "person_id")
    )
    lead_person = (
        load_truth(work_dir, "leads")
        .filter(pl.col("person_id").is_not_null())
        .select(pl.col("submission_id").cast(pl.String).alias("target_id"), "person_id")
    )
    account_of = (
        con.sql(
            "select golden_account_id as target_id, unnest(company_record_ids) as record_id from marts.fct_account_risk"
        )
        .pl()
        .join(load_truth(work_dir, "companies").select("record_id", "account_id"), on="record_id")
        .select("target_id", "account_id")
        .unique()
    )
    meetings = decisions.filter(pl.col("outcome") == "meeting_booked")
    contacts = meetings.filter(pl.col("target_kind") == "contact").join(golden_person, on="target_id", how="left")
    leads = meetings.filter(pl.col("target_kind") == "lead").join(lead_person, on="target_id", how="left")
    # Saves renew the account, whether the action went to the account or to one of its people.
    accounts = decisions.filter(pl.col("outcome") == "renewed").join(
        account_of.rename({"target_id": "golden_account_id"}), on="golden_account_id", how="left"
    )
    return pl.concat([contacts, leads, accounts], how="diagonal_relaxed")


# ------------------------------------------------------------------------------------------------------ the run
def _environment(work_dir: Path, share: float | None) -> None:
    """Point every part of Actionhouse at the run's folder (data, Dagster, policy)."""
    os.environ["ACTIONHOUSE_DATA_DIR"] = str(work_dir)
    os.environ["DAGSTER_HOME"] = str(work_dir / "dagster_home")
    for name in ("ACTIONHOUSE_WAREHOUSE", "ACTIONHOUSE_LANDING_DIR", "ACTIONHOUSE_CRM_BASE_URL", "ACTIONHOUSE_OPS_DB"):
        os.environ.pop(name, None)
    # The sandbox CRM serves at 10x HubSpot's default rate limit here (the client follows the limit the server
    # announces): this run measures outcomes, not throughput (that is `make bench-sync`), and at HubSpot's limit
    # syncing a day's actions for 100,000 contacts takes longer than the rest of the day's work together.
    os.environ.setdefault("ACTIONHOUSE_SANDBOX_RATE_LIMIT", "1000")
    os.environ.setdefault("ACTIONHOUSE_SANDBOX_SEARCH_RATE_LIMIT", "50")
    policy = work_dir / "eval_policy.yml"
    if share is not None:
        eval_policy(policy, share)
    os.environ["ACTIONHOUSE_POLICY"] = str(policy)


def simulate(
    contacts: int, days: int, seed: int, share: float, work_dir: Path, effects_file: str | None, activity: float
) -> float:
    """Generate the world and run the product against it for `days` simulated days; returns the seconds taken."""
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    _environment(work_dir, share)

    from actions.policy import load_policy
    from crm_sandbox.config import config_from_env
    from ops_store import open_store, ops_db_url_from_env
    from orchestration import cli
    from orchestration.defs.schedules.refresh import REFRESH_JOB_NAME
    from orchestration.defs.sync.assets import ACTION_SYNC_JOB_NAME
    from orchestration.settings import resolve_paths
    from sample_world import generate_next_hours, generate_world
    from sample_world.answers import load_effects

    paths = resolve_paths()
    policy = load_policy()
    effects = load_effects(effects_file)
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    cli.say = lambda message: None  # the refresh's own summary lines; this run prints one line per day instead

    def job(name: str) -> None:
        result = cli._execute_job(paths, name, quiet)
        if not result.success:
            raise SystemExit(f"eval-loop: the {name} job failed on {world_clock(work_dir):%Y-%m-%d %H:%M}")

    started = time.perf_counter()
    generate_world(work_dir, contacts=contacts, seed=seed)
    start = set_clock(work_dir)
    say(f"sample world of {contacts:,} contacts (seed {seed}) at {start:%Y-%m-%d %H:%M} UTC; holdout share {share}")
    engine = open_store(ops_db_url_from_env(work_dir))
    try:
        with cli.sandbox_crm(paths):
            crm_db = config_from_env().db_path
            job(REFRESH_JOB_NAME)
            say(f"first refresh done, {time.perf_counter() - started:.0f} s")
            for day in range(1, days + 1):
                began = time.perf_counter()
                approved = approve_waiting(engine, policy)
                job(ACTION_SYNC_JOB_NAME)
                generate_next_hours(work_dir, hours=24, crm_db=crm_db, effects=effects, activity=activity)
                now = set_clock(work_dir)
                job(REFRESH_JOB_NAME)
                say(
                    f"day {day}/{days} ({now:%Y-%m-%d}): approved {approved}, sent so far {sent_actions(engine)}, "
                    f"{time.perf_counter() - began:.0f} s"
                )
    finally:
        engine.dispose()
    return time.perf_counter() - started


def measure(work_dir: Path) -> dict:
    """Read the measured lifts, the true ones and the safety figures of a finished run; backtest its last week."""
    _environment(work_dir, None)
    from actions.backtest import backtest, warehouse_effects
    from actions.policy import load_policy
    from actions.snapshots import snapshot_root
    from ops_store import open_store, ops_db_url_from_env
    from orchestration.settings import resolve_paths
    from sample_world import load_truth

    paths = resolve_paths()
    now = set_clock(work_dir)
    engine = open_store(ops_db_url_from_env(work_dir))
    try:
        con = duckdb.connect(str(paths.warehouse), read_only=True)
        try:
            lift = con.sql("select * from marts.fct_workflow_lift").pl()
            safety = safety_figures(con)
            units = lift_units(con, work_dir)
            held_out, eligible = holdout_counts(con)
            lift_effects = warehouse_effects(con)
        finally:
            con.close()
        truth = true_lifts(units, load_truth(work_dir, "situation_outcomes"))
        report = backtest(
            engine,
            load_policy(),
            snapshot_root(work_dir),
            since=now - timedelta(days=7, minutes=1),
            effects=lift_effects,
        )
        sent = sent_actions(engine)
    finally:
        engine.dispose()
    return {
        "lift": lift,
        "truth": truth,
        "safety": safety,
        "sent": sent,
        "held_out": held_out,
        "eligible": eligible,
        "backtest": report,
    }


def sent_actions(engine) -> int:
    """Actions the sync engine sent to the CRM so far (at least one request sent)."""
    import sqlalchemy as sa

    from ops_store.schema import sync_outbox

    with engine.connect() as con:
        return con.execute(
            sa.select(sa.func.count(sa.distinct(sync_outbox.c.action_id))).where(sync_outbox.c.state == "sent")
        ).scalar_one()


def holdout_counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(held-out actions, treated + held-out actions) of the measured workflows, from the decision log."""
    held, both = con.execute(
        "select count(*) filter (where is_held_out), count(*) filter (where is_held_out or is_treated) "
        "from staging.stg_actionhouse__decisions where workflow in (select unnest(?))",
        [list(MEASURED)],
    ).fetchall()[0]
    return int(held), int(both)


def safety_figures(con: duckdb.DuckDBPyConnection) -> dict[str, float | None]:
    """Unsubscribe compliance and spam complaint rate over the whole run (sums of the daily rows)."""
    out: dict[str, float | None] = {}
    for metric in ("unsubscribe_compliance", "spam_complaint_rate"):
        num, den = con.execute(
            "select sum(numerator), sum(denominator) from marts.fct_workflow_outcomes "
            "where metric = ? and grain = 'day'",
            [metric],
        ).fetchall()[0]
        out[metric] = (num / den) if den else None
    return out


def newcombe_interval(x1: int, n1: int, x2: int, n2: int, confidence: float) -> tuple[float, float]:
    """Interval of the difference of two rates x1/n1 - x2/n2 by Newcombe's hybrid score method (1998, method 10).

    The method of `marts.fct_workflow_lift`, which computes it at 95%; here at any confidence, for the
    simultaneous check of several intervals.
    """
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)

    def wilson(x: int, n: int) -> tuple[float, float, float]:
        p = x / n
        centre, spread = p + z * z / (2 * n), z * sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return p, (centre - spread) / (1 + z * z / n), (centre + spread) / (1 + z * z / n)

    p1, l1, u1 = wilson(x1, n1)
    p2, l2, u2 = wilson(x2, n2)
    return p1 - p2 - sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), p1 - p2 + sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def simultaneous_intervals(lift: pl.DataFrame, truth: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Per workflow with an interval and a true lift, its interval at the Bonferroni-adjusted confidence that
    makes all of them hold their true lifts together with FAMILY_CONFIDENCE."""
    rows = [
        row
        for row in lift.iter_rows(named=True)
        if row["lift_ci_low"] is not None and truth.get(row["workflow"]) is not None
    ]
    each = 1 - (1 - FAMILY_CONFIDENCE) / max(1, len(rows))
    return {
        row["workflow"]: newcombe_interval(
            row["treated_outcomes"], row["treated_n"], row["held_out_outcomes"], row["held_out_n"], each
        )
        for row in rows
    }


def _figure(value, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def summary_line(days: float, contacts: int, share: float, result: dict) -> tuple[str, dict]:
    """The `eval-loop …` line and the checks behind it."""
    lift = {row["workflow"]: row for row in result["lift"].iter_rows(named=True)}
    truth = result["truth"]

    def part(key: str, workflow: str) -> list[str]:
        row = lift.get(workflow)
        if row is None:
            return [f"lift_{key}=n/a", f"lift_{key}_ci_low=n/a", f"lift_{key}_ci_high=n/a", f"true_lift_{key}=n/a"]
        return [
            f"lift_{key}={_figure(row['lift'])}",
            f"lift_{key}_ci_low={_figure(row['lift_ci_low'])}",
            f"lift_{key}_ci_high={_figure(row['lift_ci_high'])}",
            f"true_lift_{key}={_figure(truth.get(workflow))}",
            f"{key}_treated={row['treated_n']}",
            f"{key}_held_out={row['held_out_n']}",
        ]

    # The check: every simultaneous interval holds its true lift (decided before the 14-day run it was first applied
    # to; docs/outcomes.md). How many of the marts' own 95% intervals hold theirs is reported beside it.
    simultaneous = simultaneous_intervals(result["lift"], truth)
    checks = {
        f"ci_contains_true_{workflow}": low <= truth[workflow] <= high for workflow, (low, high) in simultaneous.items()
    }
    held_at_95 = sum(lift[workflow]["lift_ci_low"] <= truth[workflow] <= lift[workflow]["lift_ci_high"]
                     for workflow in simultaneous)
    zero = lift.get(ZERO_EFFECT_WORKFLOW)
    checks["zero_effect_not_significant"] = not (zero and zero["is_significant"])
    report = result["backtest"]
    fields = [
        f"days={days:g}",
        f"contacts={contacts}",
        f"actions_sent={result['sent']}",
        f"holdout_share={result['held_out'] / max(1, result['eligible']):.4f}",
        f"holdout_policy_share={share}",
        *part("meetings", MEETINGS_WORKFLOW),
        *part("saves", SAVES_WORKFLOW),
        *part("zero_effect", ZERO_EFFECT_WORKFLOW),
        f"zero_effect_significant={'no' if checks['zero_effect_not_significant'] else 'yes'}",
        f"unsubscribe_compliance={_figure(result['safety']['unsubscribe_compliance'])}",
        f"spam_complaint_rate={_figure(result['safety']['spam_complaint_rate'])}",
        f"cis95_contain_true={held_at_95}/{len(simultaneous)}",
        f"ci_each_confidence={1 - (1 - FAMILY_CONFIDENCE) / max(1, len(simultaneous)):.4f}",
        f"cis_contain_true_lifts={'yes' if all(checks.values()) else 'no'}",
        f"backtest_seconds={report.seconds:.1f}",
        f"backtest_runs={len(report.runs)}",
        f"backtest_reproduced={'yes' if report.reproduced else 'no'}",
        f"loop_seconds={_figure(result['loop_seconds'], 0)}",
    ]
    return "eval-loop " + " ".join(fields), checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--holdout-share", type=float, default=0.5)
    parser.add_argument(
        "--activity",
        type=float,
        default=1.0,
        help="the world's hourly activity (people active, leads) times this (default 1: its usual rates)",
    )
    parser.add_argument("--effects", help="a YAML/JSON file of the world's effect sizes (sample_world.answers.Effects)")
    parser.add_argument("--work-dir", type=Path, help="default: bench_data/loop_<contacts>")
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="measure the run in --work-dir again, finished or stopped after any day (no simulation)",
    )
    args = parser.parse_args(argv)
    work_dir = (args.work_dir or Path("bench_data") / f"loop_{args.contacts}").resolve()
    seconds = None
    if not args.measure_only:
        seconds = simulate(
            args.contacts, args.days, args.seed, args.holdout_share, work_dir, args.effects, args.activity
        )
    result = measure(work_dir)
    result["loop_seconds"] = seconds
    simultaneous = simultaneous_intervals(result["lift"], result["truth"])
    for row in result["lift"].sort("workflow").iter_rows(named=True):
        true = result["truth"].get(row["workflow"])
        low, high = simultaneous.get(row["workflow"], (None, None))
        say(
            f"{row['workflow']:<13} treated {row['treated_n']:>5} ({_figure(row['treated_rate'])}) held out "
            f"{row['held_out_n']:>5} ({_figure(row['held_out_rate'])}) lift {_figure(row['lift'])} "
            f"95% [{_figure(row['lift_ci_low'])}, {_figure(row['lift_ci_high'])}] "
            f"simultaneous [{_figure(low)}, {_figure(high)}] true {_figure(true)}"
            + (f" — {row['sample_size_note']}" if row["sample_size_note"] else "")
        )
    line, checks = summary_line(simulated_days(work_dir), args.contacts, args.holdout_share, result)
    print(line, flush=True)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
