"""`make eval-faults`: each row of the hardening issue's fault table run as a scenario on a small world.

    eval-faults kill9_recovered=1 stray_quote_rows_lost=0 future_events_quarantined=15 ...

Scenarios that need a built warehouse share one small sample world (``--contacts``, default 600) in a fresh
temporary folder, driven through the `actionhouse` command in child processes exactly as a user or a
scheduler would run it (never the user's own data folder):

- `kill9_recovered`: a refresh killed with kill -9 while dbt builds (dbt left running); the next refresh must
  finish by itself, having marked the dead run failed and stopped its dbt.
- `scores_published_during_crm_outage`: the next hour refreshed with the CRM unreachable: that hour's scores
  must be published all the same, and the summary must name the URL and the variable to fix.
- `blocked_run_published`: the latest scoring run marked blocked by drift, then only `ml/lead_scores`
  materialized (as anyone may from the UI): the blocked run must not be published.

The others build what they need in their own folder: `future_events_quarantined` (15 email events dated
2099), `wrong_source_loaded` (a deals export ingested without `--source`, then as contacts),
`sandbox_admin_without_token` (the sandbox CRM's admin endpoints called without a token), the landing
scenarios (`evaluation.fault_scenarios_landing`: stray quote, internal error retried, truncated copy) and the
pipeline ones (`evaluation.fault_scenarios_pipeline`: contact data in the Dagster home, dbt target growth).

Each scenario is also a test in `make test` (see docs/operations.md for which).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

FUTURE_EVENTS = 15
# Where `actionhouse` keeps its files: set per scenario, never inherited from the caller's shell.
_LOCATION_VARIABLES = (
    "ACTIONHOUSE_DATA_DIR",
    "ACTIONHOUSE_WAREHOUSE",
    "ACTIONHOUSE_LANDING_DIR",
    "DAGSTER_HOME",
    "ACTIONHOUSE_CRM_BASE_URL",
    "ACTIONHOUSE_CRM_TOKEN",
    "ACTIONHOUSE_OPS_DB",
)


def _say(message: str) -> None:
    print(f"[eval-faults] {message}", flush=True)


class World:
    """A small sample world in its own data folder, and the `actionhouse` command pointed at it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.warehouse = data_dir / "warehouse.duckdb"
        self.command = [str(Path(sys.executable).with_name("actionhouse"))]
        data_dir.mkdir(parents=True, exist_ok=True)

    @classmethod
    def generated(cls, data_dir: Path, contacts: int, seed: int) -> World:
        """A fresh data folder holding a newly generated sample world."""
        world = cls(data_dir)
        code, out = world.run("generate", "--contacts", str(contacts), "--seed", str(seed))
        if code:
            raise RuntimeError(f"generating the sample world failed:\n{out}")
        return world

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _LOCATION_VARIABLES}
        return {**env, "ACTIONHOUSE_DATA_DIR": str(self.data_dir), **extra}

    def start(self, *args: str, log: str, **extra: str) -> subprocess.Popen:
        """Start `actionhouse ARGS` in the background, its output in `<data dir>/<log>`."""
        out = open(self.data_dir / log, "w")  # noqa: SIM115 - closed with the process (see `finish`)
        return subprocess.Popen([*self.command, *args], env=self.env(**extra), stdout=out, stderr=subprocess.STDOUT)

    def run(self, *args: str, log: str | None = None, timeout: float = 1800, **extra: str) -> tuple[int, str]:
        """Run `actionhouse ARGS` to the end; (exit code, output)."""
        log = log or f"{args[0]}.log"
        process = self.start(*args, log=log, **extra)
        process.wait(timeout=timeout)
        return process.returncode, (self.data_dir / log).read_text(errors="replace")

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql).fetchall()

    def dbt_processes(self) -> list[int]:
        """`dbt build` processes building this world's warehouse (found by the warehouse path in their
        environment; not the short `dbt parse` a refresh starts with)."""
        marker = f"ACTIONHOUSE_WAREHOUSE={self.warehouse}".encode()
        found = []
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                cmdline = (entry / "cmdline").read_bytes()
                if (
                    b"dbt" in cmdline
                    and b"build" in cmdline
                    and marker in (entry / "environ").read_bytes().split(b"\0")
                ):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found


def kill9_scenario(world: World) -> dict[str, int]:
    """Row 1: kill -9 during dbt, then refresh again unattended."""
    refresh = world.start("refresh", log="killed.log")
    deadline = time.monotonic() + 900
    while not world.dbt_processes() and refresh.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # well inside the build
    os.kill(refresh.pid, signal.SIGKILL)
    refresh.wait()
    left_running = len(world.dbt_processes())
    code, out = world.run("refresh", log="after_kill.log")
    recovered = code == 0 and "Marked 1 earlier run(s) failed" in out and not world.dbt_processes()
    _say(f"kill -9: dbt left running {left_running}; next refresh exit code {code}")
    return {"kill9_recovered": int(recovered), "kill9_dbt_left_running": left_running}


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def crm_outage_scenario(world: World) -> dict[str, int]:
    """Row 4: the next hour refreshed while the CRM cannot be reached."""
    before = world.query("select distinct run_id from ml.lead_scores")
    world.run("generate", "--hours", "1", log="next_hour.log")
    url = f"http://127.0.0.1:{_free_loopback_port()}"  # nothing listens there
    code, out = world.run("refresh", log="outage.log", ACTIONHOUSE_CRM_BASE_URL=url, ACTIONHOUSE_CRM_TOKEN="any-token")
    after = world.query("select distinct run_id from ml.lead_scores")
    latest = world.query("select run_id from ml.score_log order by scored_at desc limit 1")
    published = len(after) == 1 and after != before and after == latest
    named = f"could not reach the CRM at {url}" in out and "ACTIONHOUSE_CRM_BASE_URL" in out
    _say(f"CRM outage: refresh exit code {code}; this hour's scores published {published}; problem named {named}")
    return {"scores_published_during_crm_outage": int(published and named)}


def blocked_run_scenario(world: World) -> dict[str, int]:
    """Row 8: the latest run blocked by drift, then `ml/lead_scores` materialized alone."""
    import dagster as dg

    from ml.pipeline import record_run_verdict
    from orchestration.defs.ml.assets import lead_scores
    from orchestration.resources import WarehouseResource

    (blocked,) = world.query("select run_id from ml.score_log order by scored_at desc limit 1")[0]
    with duckdb.connect(str(world.warehouse)) as con:
        record_run_verdict(con, blocked, "block")
    resource = WarehouseResource(database_path=str(world.warehouse), landing_dir=str(world.data_dir / "landing"))
    with tempfile.TemporaryDirectory() as home, dg.instance_for_test(temp_dir=home) as instance:
        dg.materialize(
            [lead_scores],
            resources={"warehouse": resource},
            instance=instance,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    published = {run for (run,) in world.query("select distinct run_id from ml.lead_scores")}
    return {"blocked_run_published": int(blocked in published)}


def future_events_scenario(work_dir: Path, world: World) -> dict[str, int]:
    """Row 3: email events dated 2099 are quarantined with the reason, none reach the raw table."""
    from landing import ingest_landing
    from landing.schema import ensure_raw_schema

    (events_file,) = sorted((world.data_dir / "landing" / "email_events").glob("*.jsonl"))[:1]
    event = json.loads(events_file.read_text().splitlines()[0])
    landing = work_dir / "landing" / "email_events"
    landing.mkdir(parents=True)
    rows = [
        {**event, "event_id": f"future-{i}", "timestamp": f"2099-01-{i + 1:02d}T09:00:00Z"}
        for i in range(FUTURE_EVENTS)
    ]
    (landing / "events-from-a-broken-clock.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with duckdb.connect(str(work_dir / "warehouse.duckdb")) as con:
        ensure_raw_schema(con)
        ingest_landing(con, work_dir / "landing", settle_seconds=0)
        quarantined = con.execute(
            "select count(*) from raw.quarantine_rows where reason like '%is in the future%'"
        ).fetchall()[0][0]
        accepted = con.execute("select count(*) from raw.email_events where event_id like 'future-%'").fetchall()[0][0]
    return {"future_events_quarantined": quarantined, "future_events_accepted": accepted}


def wrong_source_scenario(work_dir: Path, world: World) -> dict[str, int]:
    """Row 5: a deals export ingested without `--source`, then with the wrong one."""
    (deals,) = sorted((world.data_dir / "landing" / "hubspot_deals").glob("*.csv"))[:1]
    export = work_dir / "deals.csv"
    export.write_bytes(deals.read_bytes())
    fresh = World(work_dir / "data")
    fresh.run("ingest", str(export), "--no-refresh", log="ingest_guess.log")
    fresh.run("ingest", str(export), "--source", "hubspot_contacts", "--no-refresh", log="ingest_wrong.log")
    landing = fresh.data_dir / "landing"
    wrong = [p for p in landing.rglob("deals.csv") if p.parent.name != "hubspot_deals"]
    return {"wrong_source_loaded": len(wrong)}


def sandbox_admin_scenario() -> dict[str, int]:
    """Row 11: the sandbox CRM's admin endpoints called without a token."""
    import httpx

    from crm_sandbox.config import SandboxConfig
    from crm_sandbox.server import start_sandbox

    with tempfile.TemporaryDirectory() as folder:
        server, _ = start_sandbox(SandboxConfig(db_path=Path(folder) / "crm.sqlite"))
        try:
            answers = [
                httpx.get(f"{server.url}/_sandbox/stats").status_code,
                httpx.patch(f"{server.url}/_sandbox/faults", json={"fault_5xx_rate": 1.0}).status_code,
            ]
        finally:
            server.stop()
    return {"sandbox_admin_without_token": sum(1 for status in answers if status < 400)}


def _isolated(scenario: Callable[[Path], dict], root: Path) -> dict:
    folder = root / scenario.__name__
    folder.mkdir()
    return scenario(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=600, help="size of the small world (default 600)")
    parser.add_argument("--seed", type=int, default=41, help="sample world seed (default 41)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder (its path is printed)")
    args = parser.parse_args(argv)

    from evaluation import fault_scenarios_landing, fault_scenarios_pipeline

    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="actionhouse-faults-"))
    figures: dict[str, float] = {}
    try:
        _say(f"small world of {args.contacts} contacts in {root}")
        world = World.generated(root / "world", args.contacts, args.seed)
        figures.update(kill9_scenario(world))
        figures.update(crm_outage_scenario(world))
        figures.update(blocked_run_scenario(world))
        for name, scenario in (("future", future_events_scenario), ("source", wrong_source_scenario)):
            (root / name).mkdir()
            figures.update(scenario(root / name, world))
        figures.update(sandbox_admin_scenario())
        pipeline_scenarios = (
            fault_scenarios_pipeline.pii_values_in_dagster_home,
            fault_scenarios_pipeline.dbt_target_growth_mb_per_run,
        )
        for scenario in (*fault_scenarios_landing.SCENARIOS, *pipeline_scenarios):
            _say(f"{scenario.__name__} ...")
            figures.update(_isolated(scenario, root))
    finally:
        if args.keep:
            _say(f"kept {root}")
        else:
            import shutil

            shutil.rmtree(root, ignore_errors=True)
    order = (
        "kill9_recovered",
        "stray_quote_rows_lost",
        "future_events_quarantined",
        "scores_published_during_crm_outage",
        "wrong_source_loaded",
        "internal_error_retried",
        "truncated_copy_loaded",
        "blocked_run_published",
        "pii_values_in_dagster_home",
        "sandbox_admin_without_token",
        "dbt_target_growth_mb_per_run",
    )
    # Figures only: the scenarios' lists of examples are for their tests.
    figures = {k: v for k, v in figures.items() if isinstance(v, int | float)}
    keys = [k for k in order if k in figures] + sorted(k for k in figures if k not in order)
    line = " ".join(f"{k}={figures[k]:.2f}" if isinstance(figures[k], float) else f"{k}={figures[k]}" for k in keys)
    print(f"eval-faults {line} seconds={time.perf_counter() - started:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
