"""`actionhouse`: the command line of the embedded default (sample world, ingest, refresh, demo)."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from orchestration.demo_sync import read_back_lines, run_demo_approvals, sync_summary_lines
from orchestration.settings import (
    CRM_BASE_URL_ENV,
    CRM_TOKEN_ENV,
    DBT_PROJECT_DIR,
    Paths,
    prepare_dagster_home,
    resolve_paths,
)

DEFAULT_DEMO_CONTACTS = 10_000
DEFAULT_SEED = 42


def say(message: str) -> None:
    """Progress line on stdout, flushed so it shows while long steps run."""
    print(f"[actionhouse] {message}", flush=True)


def _generate(
    paths: Paths,
    contacts: int,
    seed: int,
    hours: int | None,
    overwrite: bool = False,
    hard_cases: bool = False,
    crm_db: Path | None = None,
    effects_file: Path | None = None,
) -> None:
    from sample_world import generate_hard_world, generate_next_hours, generate_world

    started = time.perf_counter()
    if hard_cases:
        if not overwrite and (paths.truth_dir / "world_state.json").exists():
            raise FileExistsError(paths.data_dir)
        say(f"Writing a hard-case CRM export: ~{contacts:,} contacts, seed {seed}, into {paths.data_dir} ...")
        hard = generate_hard_world(paths.data_dir, contacts=contacts, seed=seed)
        say(
            f"Hard-case export written in {hard.seconds:.1f} s: {hard.contacts:,} contact and {hard.companies:,} "
            f"company records under {paths.landing_dir} (hidden truth in {paths.truth_dir})"
        )
        return
    if hours:
        answering = f", answering what was synced to the CRM in {crm_db}" if crm_db else ""
        say(f"Generating the next {hours} hour(s) of the sample CRM world in {paths.data_dir}{answering} ...")
        from sample_world.answers import load_effects

        effects = load_effects(effects_file) if effects_file else None
        summary = generate_next_hours(paths.data_dir, hours=hours, progress=say, crm_db=crm_db, effects=effects)
    else:
        say(f"Generating a sample CRM world: {contacts:,} contacts, seed {seed}, into {paths.data_dir} ...")
        summary = generate_world(paths.data_dir, contacts=contacts, seed=seed, progress=say, overwrite=overwrite)
    landing_files = [f for f in summary.files if f.startswith("landing/")]
    say(
        f"Sample world written in {time.perf_counter() - started:.1f} s: {sum(summary.rows.values()):,} rows in "
        f"{len(landing_files)} landing files under {paths.data_dir / 'landing'} (hidden truth in {paths.truth_dir})"
    )


def _execute_job(paths: Paths, job_name: str, ops_config: dict | None = None, preloaded_dbt=None):
    """Run one job of the code location in this process against the embedded default; its result.

    `ops_config` is the run config of the job's steps (e.g. the dbt build's `full_refresh` flag); the run's dbt
    command runs in `preloaded_dbt` (`orchestration.dbt_preload.preloaded_dbt_process`) when given."""
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(paths))
    os.environ["ACTIONHOUSE_WAREHOUSE"] = str(paths.warehouse)
    os.environ["ACTIONHOUSE_LANDING_DIR"] = str(paths.landing_dir)

    from orchestration.dbt import prepare_dbt_manifest

    prepare_dbt_manifest()

    from orchestration.dagster_storage import open_instance
    from orchestration.definitions import defs
    from orchestration.process import long_lived_objects_frozen
    from orchestration.recovery import recover_dead_runs, run_tags

    job = defs().resolve_job_def(job_name)
    with open_instance(paths.dagster_home) as instance:
        recovered = recover_dead_runs(instance)
        if recovered:
            stopped = sum(len(r.stopped) for r in recovered)
            left = f" Stopped {stopped} process(es) they had left running (dbt)." if stopped else ""
            say(
                f"Marked {len(recovered)} earlier run(s) failed ({', '.join(r.run_id[:8] for r in recovered)}): their "
                f"process ended without finishing (killed or crashed). Their warehouse slots are free again.{left}"
            )
        # Everything loaded so far (libraries, definitions, the dbt manifest) lives until the run ends: left out of
        # the garbage collector's passes during the run (`orchestration.process`).
        # Offered only now: `prepare_dbt_manifest`'s parse above runs dbt on its own.
        offered = preloaded_dbt.offered() if preloaded_dbt else contextlib.nullcontext()
        with _sigterm_as_interrupt(), long_lived_objects_frozen(), offered:
            return job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}, **(ops_config or {})},
                tags=run_tags(),
            )


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler stopping the job, `kill`) stops a run the way Ctrl-C does: Dagster interrupts the
    running step, dbt gets SIGINT and stops, the run ends failed and the warehouse is left unlocked. Python's
    default would end the process at once and leave dbt running."""
    try:
        previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: os.kill(os.getpid(), signal.SIGINT))
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_refresh(paths: Paths, full_refresh: bool = False) -> bool:
    """Run the refresh job in this process against the embedded default; print a summary. True if green.

    `full_refresh` rebuilds every incremental and stateful dbt model from scratch (`dbt build --full-refresh`).
    dbt's imports run first, in a process of their own beside this one's start (`orchestration.dbt_preload`)."""
    from orchestration.dbt_preload import preloaded_dbt_process

    with preloaded_dbt_process(say, DBT_PROJECT_DIR) as preloaded_dbt:
        from orchestration.defs.schedules.refresh import FULL_REFRESH_RUN_CONFIG, REFRESH_JOB_NAME

        say(
            "Refreshing the warehouse: load landing files -> quality gates -> dbt build -> scores -> actions -> CRM ..."
        )
        if full_refresh:
            say(
                "Full refresh: incremental and stateful models (event streams, pairs, clusters, ...) start from "
                "scratch."
            )
        config = FULL_REFRESH_RUN_CONFIG if full_refresh else None
        started = time.perf_counter()
        result = _execute_job(paths, REFRESH_JOB_NAME, config, preloaded_dbt=preloaded_dbt)
    print_summary(paths, result, time.perf_counter() - started)
    return result.success


def run_job(paths: Paths, job_name: str) -> bool:
    """Run another job (e.g. the approvals sync) in this process; say how it went. True if green."""
    started = time.perf_counter()
    result = _execute_job(paths, job_name)
    say(f"{job_name}: {'succeeded' if result.success else 'FAILED'} in {time.perf_counter() - started:.1f} s")
    return result.success


def _open_when_free(warehouse: Path):
    """Open the warehouse read-only, waiting briefly for a finishing writer (e.g. dbt) to let go of it."""
    import duckdb

    from landing.warehouse import connect

    try:
        return connect(warehouse, read_only=True, wait_seconds=10)
    except duckdb.IOException:
        say(f"The warehouse {warehouse} is still in use by another process; no per-source figures this time.")
        return None


def _scoring_summary(con) -> list[str]:
    """What RevOps gets from the run: published scores per tier, and the reply triage."""
    tiers = dict(con.execute("select tier, count(*) from ml.lead_scores group by tier").fetchall())
    lines = [
        f"scored leads (golden contacts): {sum(tiers.values()):,} in ml.lead_scores — "
        + ", ".join(f"Tier {t}: {tiers.get(t, 0):,}" for t in (1, 2, 3))
    ]
    replies, needs_human = con.execute(
        "select count(*), count(*) filter (where needs_human) from ml.reply_classifications"
    ).fetchone()
    lines.append(f"replies classified: {replies:,} in ml.reply_classifications ({needs_human:,} need a person)")
    return lines


def _queue_summary(paths: Paths) -> list[str]:
    """The decision queue per workflow, risk class and state (nothing when no planning run wrote it yet)."""
    from actions.policy import PolicyError, load_policy
    from actions.queue import DecisionQueue
    from ops_store import open_store, ops_db_url_from_env
    from orchestration.actions_cli import queue_summary_lines

    try:
        policy = load_policy()
    except PolicyError as exc:
        return [f"actions: not planned — the policy file does not validate (actionhouse policy check):\n{exc}"]
    engine = open_store(ops_db_url_from_env(paths.data_dir))
    try:
        counts = DecisionQueue(engine, policy).counts()
    finally:
        engine.dispose()
    if not counts:
        return ["actions: none in the decision queue yet"]
    return [*queue_summary_lines(counts), "see them: actionhouse queue list / queue show ID"]


def _sync_summary(paths: Paths) -> list[str]:
    """What reached the CRM so far (nothing when no sync ran)."""
    from ops_store import open_store, ops_db_url_from_env

    engine = open_store(ops_db_url_from_env(paths.data_dir))
    try:
        return sync_summary_lines(engine)
    finally:
        engine.dispose()


def print_crm_round_trip(paths: Paths) -> None:
    """After the demo's approvals: what reached the CRM and what the read-back found there."""
    import duckdb

    print("\n=== Actionhouse and the CRM ===")
    lines = _sync_summary(paths)
    con = _open_when_free(paths.warehouse)
    if con is not None:
        try:
            with contextlib.suppress(duckdb.Error):  # nothing read back yet
                lines += read_back_lines(con)
            with contextlib.suppress(duckdb.Error):  # no sync log published yet
                by_approver = con.execute(
                    "select approved_by, count(*) from reverse_etl.sync_log where sync = 'action' and status = 'sent' "
                    "group by 1 order by 2 desc"
                ).fetchall()
                lines.append(
                    "actions sent, by who approved them: "
                    + ", ".join(f"{who} {n:,}" for who, n in by_approver)
                    + " (reverse_etl.sync_log)"
                )
        finally:
            con.close()
    for line in lines:
        print(line)


def _interrupted(result) -> bool:
    """True when a step of the run was stopped by Ctrl-C or SIGTERM."""
    return any(
        event.is_step_failure and event.step_failure_data.error.cls_name == "DagsterExecutionInterruptedError"
        for event in result.all_events
    )


def print_summary(paths: Paths, result, seconds: float) -> None:
    """Rows loaded and quarantined per source, checks passed and failed, where things are."""
    import duckdb

    print("\n=== Actionhouse refresh summary ===")
    print(f"run {result.run_id[:8]}: {'succeeded' if result.success else 'FAILED'} in {seconds:.1f} s")
    if _interrupted(result):
        print(
            "stopped on request (Ctrl-C or SIGTERM): the running step was interrupted and dbt told to stop; the "
            "run is marked failed and the warehouse is free. The next refresh carries on from what was saved."
        )
    con = _open_when_free(paths.warehouse) if paths.warehouse.exists() else None
    if con is not None:
        try:
            try:
                rows = con.execute(
                    """
                    select source, count(*) filter (where status = 'loaded') as loads,
                           count(*) filter (where status = 'rejected') as files_rejected,
                           coalesce(sum(rows_loaded), 0), coalesce(sum(rows_accepted), 0),
                           coalesce(sum(rows_quarantined), 0)
                    from raw.load_files group by source order by source
                    """
                ).fetchall()
            except duckdb.Error:
                rows = []
            from landing.ingest import files_to_retry

            try:
                retry = files_to_retry(con)
            except duckdb.Error:
                retry = []
            try:
                scoring_lines = _scoring_summary(con)
            except duckdb.Error:  # no scores yet (a gate stopped the run before scoring)
                scoring_lines = []
            with contextlib.suppress(duckdb.Error):  # no API ingestion yet
                scoring_lines += read_back_lines(con)
        finally:
            con.close()
        print(f"{'source':<20}{'loads':>7}{'rejected':>10}{'rows loaded':>14}{'accepted':>12}{'quarantined':>13}")
        for source, loads, rejected, loaded, accepted, quarantined in rows:
            print(f"{source:<20}{loads:>7}{rejected:>10}{loaded:>14,}{accepted:>12,}{quarantined:>13,}")
        if retry:
            print(
                f"files that failed to load for a reason other than their content ({len(retry)}; tried again "
                "on the next refresh):"
            )
            for _, error in retry[:20]:
                print(f"  {error}")
        for line in scoring_lines:
            print(line)
    from landing.ingest import ignored_files

    ignored = ignored_files(paths.landing_dir)
    if ignored:
        print(f"not loaded ({len(ignored)}; move them into a source folder with a .csv/.jsonl name, or remove them):")
        for note in ignored[:20]:
            print(f"  {note}")
        if len(ignored) > 20:
            print(f"  ... and {len(ignored) - 20} more")
    for line in _queue_summary(paths):
        print(line)
    for line in _sync_summary(paths):
        print(line)
    evaluations = result.get_asset_check_evaluations()
    failed = [e for e in evaluations if not e.passed]
    print(f"checks: {len(evaluations) - len(failed)} passed, {len(failed)} failed")
    for evaluation in failed:
        problem = evaluation.metadata.get("problem")
        why = f": {problem.value}" if problem is not None else ""
        print(f"  FAILED {evaluation.asset_key.to_user_string()} :: {evaluation.check_name}{why}")
    skipped = result.get_step_skipped_events()
    if skipped:
        print(f"steps skipped by a failed gate: {', '.join(sorted({e.step_key for e in skipped}))}")
    print(f"warehouse: {paths.warehouse}")
    print("quarantined rows: raw.quarantine_rows; quality gate results: quality.expectation_results")
    print("open the UI: make ui  (then http://127.0.0.1:3000); the RevOps console: actionhouse console")


def _world_crm(args: argparse.Namespace) -> Path | None:
    """The sandbox CRM file next-hour mode answers from: `--crm-db [FILE]` (alone: the sandbox's own file), else
    ACTIONHOUSE_WORLD_CRM_DB, else none (no actions: the world as it always was)."""
    from sample_world.answers import WORLD_CRM_ENV

    if args.crm_db == "sandbox":
        from crm_sandbox.config import config_from_env

        return config_from_env().db_path
    if args.crm_db:
        return Path(args.crm_db)
    env = os.environ.get(WORLD_CRM_ENV, "").strip()
    return Path(env) if env else None


def cmd_generate(args: argparse.Namespace) -> int:
    paths = resolve_paths()
    crm_db = _world_crm(args) if args.hours else None
    if crm_db is not None and not crm_db.is_file():
        say(f"No sandbox CRM file at {crm_db}: run the demo (or `actionhouse crm seed`) first, or leave out --crm-db.")
        return 2
    try:
        _generate(
            paths,
            args.contacts,
            args.seed,
            args.hours,
            overwrite=args.overwrite,
            hard_cases=args.hard_cases,
            crm_db=crm_db,
            effects_file=args.effects,
        )
    except FileExistsError:
        say(
            f"A sample world already exists in {paths.data_dir}. Use --hours N to add the next hours to it, "
            "or --overwrite to replace it (this deletes the generated landing files and truth)."
        )
        return 2
    except ValueError as error:
        say(str(error))
        return 2
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from landing.contract import SOURCES
    from landing.ingest import guess_source, stage_file

    paths = resolve_paths()
    source_file = Path(args.file)
    if not source_file.is_file():
        say(f"No such file: {source_file}")
        return 2
    if args.source is not None and args.source not in SOURCES:
        say(f"Unknown source '{args.source}'. Known sources: {', '.join(SOURCES)}.")
        return 2
    guess = guess_source(source_file)
    source = args.source
    if source is None:
        if guess.source is None:
            among = f" ({', '.join(guess.candidates)})" if guess.candidates else ""
            say(
                f"Cannot tell which source {source_file.name} is: {guess.problem}{among}. "
                f"Name it with --source (one of: {', '.join(SOURCES)})."
            )
            return 2
        source = guess.source
        say(f"Reading {source_file.name} as {source} (its header has {', '.join(guess.evidence[:4])}).")
    elif guess.contradicts(source):
        say(
            f"{source_file.name} looks like {guess.source} (its header has {', '.join(guess.evidence[:4])}), "
            f"not {source}: nothing was copied. Pass --source {guess.source}, or check the file."
        )
        return 2
    target = paths.landing_dir / SOURCES[source].folder / source_file.name
    already = target.exists()
    staged = stage_file(source_file, paths.landing_dir, source)
    if already and staged == target:
        say(f"{source_file} is already in the landing folder as {staged} (same content): nothing copied.")
    else:
        say(f"Copied {source_file} into the landing folder as {staged}")
    if args.no_refresh:
        say("It will be loaded by the next refresh (hourly, on the new-file sensor, or `actionhouse refresh`).")
        return 0
    return 0 if run_refresh(paths) else 1


def cmd_refresh(args: argparse.Namespace) -> int:
    return 0 if run_refresh(resolve_paths(), full_refresh=args.full_refresh) else 1


@contextmanager
def sandbox_crm(paths: Paths) -> Iterator[None]:
    """Serve the sandbox CRM, seeded from the sample world, for the length of a `with` block.

    The refresh then reads contacts, companies and deals through the CRM API (as it would from HubSpot).
    Skipped when `ACTIONHOUSE_CRM_BASE_URL` already points at a CRM.
    """
    if os.environ.get(CRM_BASE_URL_ENV, "").strip():
        say("Using the CRM at ACTIONHOUSE_CRM_BASE_URL.")
        yield
        return
    from crm_sandbox.config import config_from_env
    from crm_sandbox.seed import seed_from_landing
    from crm_sandbox.server import start_sandbox
    from crm_sandbox.store import SandboxStore

    config = config_from_env()
    if not config.db_path.exists():
        store = SandboxStore(config.db_path, config.unique_properties)
        try:
            report = seed_from_landing(store, paths.landing_dir)
        finally:
            store.close()
        counts = ", ".join(f"{n:,} {t}" for t, n in report.records.items())
        say(f"Seeded the sandbox CRM from the sample world: {counts}")
    server, _ = start_sandbox(config)
    say(f"Sandbox CRM (HubSpot API) serving on {server.url}")
    from reverse_etl.crm.hubspot import CRM_NAME_ENV

    previous = {name: os.environ.get(name) for name in (CRM_BASE_URL_ENV, CRM_TOKEN_ENV, CRM_NAME_ENV)}
    os.environ[CRM_BASE_URL_ENV] = server.url
    os.environ[CRM_TOKEN_ENV] = config.tokens[0]
    # One name for the sandbox whatever port it gets, so read cursors and the sync ledger carry over between demos.
    os.environ[CRM_NAME_ENV] = "hubspot@sandbox"
    try:
        yield
    finally:
        server.stop()
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cmd_demo(args: argparse.Namespace) -> int:
    paths = resolve_paths()
    if args.fresh:
        for folder in (paths.landing_dir, paths.truth_dir):
            shutil.rmtree(folder, ignore_errors=True)
        state_files = ("crm_sandbox.sqlite", "operations.sqlite")
        for state_file in (paths.warehouse, *(paths.data_dir / name for name in state_files)):
            state_file.unlink(missing_ok=True)
    if not (paths.truth_dir / "world_state.json").exists():
        _generate(paths, args.contacts, args.seed, None)
    else:
        say(f"Using the sample world already in {paths.data_dir} (pass --fresh to start over).")
    from orchestration.console_cli import ensure_demo_user

    if args.no_crm:
        if not run_refresh(paths):
            return 1
        ensure_demo_user(say)
        return 0
    with sandbox_crm(paths):
        if not run_refresh(paths):
            return 1
        if not run_demo_approvals(paths.data_dir, lambda job: run_job(paths, job), say):
            return 1
        print_crm_round_trip(paths)
    ensure_demo_user(say)
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from orchestration.dbt import prepare_dbt_manifest

    paths = resolve_paths()
    home = prepare_dagster_home(paths)
    manifest = prepare_dbt_manifest()
    say(f"Dagster home ready at {home}; dbt manifest at {manifest}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and `--help`)."""
    parser = argparse.ArgumentParser(
        prog="actionhouse",
        description="Actionhouse: CRM data in, clean records, scores and approved actions out.",
        epilog="Locations come from ACTIONHOUSE_DATA_DIR (default ./data), ACTIONHOUSE_WAREHOUSE, "
        "ACTIONHOUSE_LANDING_DIR and DAGSTER_HOME.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="generate a sample CRM world (if none yet) and refresh everything")
    demo.add_argument("--contacts", type=int, default=DEFAULT_DEMO_CONTACTS)
    demo.add_argument("--seed", type=int, default=DEFAULT_SEED)
    demo.add_argument("--fresh", action="store_true", help="delete the landing files, truth and warehouse first")
    demo.add_argument(
        "--no-crm", action="store_true", help="read CRM objects from the landing exports only (no sandbox CRM)"
    )
    demo.set_defaults(func=cmd_demo)

    gen = sub.add_parser("generate", help="write a sample CRM world into the landing folder")
    gen.add_argument("--contacts", type=int, default=DEFAULT_DEMO_CONTACTS)
    gen.add_argument("--seed", type=int, default=DEFAULT_SEED)
    gen.add_argument("--hours", type=int, default=None, help="emit only the next N hours of new data")
    gen.add_argument(
        "--crm-db",
        nargs="?",
        const="sandbox",
        default=None,
        metavar="FILE",
        help="with --hours: answer what the sync wrote to the sandbox CRM (its SQLite FILE; alone: the sandbox's "
        "own file, ACTIONHOUSE_SANDBOX_DB or <data dir>/crm_sandbox.sqlite); default ACTIONHOUSE_WORLD_CRM_DB, else "
        "no actions (docs/sample-world.md)",
    )
    gen.add_argument(
        "--effects",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --hours: a YAML/JSON file of effect sizes for the answering world (sample_world.answers.Effects)",
    )
    gen.add_argument("--overwrite", action="store_true", help="replace an existing sample world")
    gen.add_argument(
        "--hard-cases",
        action="store_true",
        help="write only a contacts + companies export full of hard entity-resolution cases (docs/sample-world.md)",
    )
    gen.set_defaults(func=cmd_generate)

    ingest = sub.add_parser("ingest", help="put a file (e.g. a HubSpot contacts export) into the landing folder")
    ingest.add_argument("file")
    ingest.add_argument(
        "--source",
        default=None,
        help="landing source, e.g. hubspot_contacts (default: read from the file's header, and said so)",
    )
    ingest.add_argument("--no-refresh", action="store_true", help="only copy the file; load on the next refresh")
    ingest.set_defaults(func=cmd_ingest)

    refresh = sub.add_parser("refresh", help="load new landing files and rebuild everything downstream")
    refresh.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every incremental and stateful model from scratch (event streams, contact pairs, clusters, "
        "risk history); the hourly refresh stays incremental",
    )
    refresh.set_defaults(func=cmd_refresh)

    prepare = sub.add_parser("prepare", help="parse the dbt project and set up the Dagster home (for the UI)")
    prepare.set_defaults(func=cmd_prepare)

    from orchestration.crm_cli import add_crm_commands

    add_crm_commands(sub)
    from orchestration.model_cli import add_model_commands

    add_model_commands(sub)
    from orchestration.actions_cli import add_action_commands

    add_action_commands(sub)
    from orchestration.sync_cli import add_sync_commands

    add_sync_commands(sub)
    from orchestration.console_cli import add_console_commands

    add_console_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run an `actionhouse` command line (`argv`, default the process's arguments); its exit status."""
    args = build_parser().parse_args(argv)
    return args.func(args)


def run() -> NoReturn:
    """Entry point of the `actionhouse` command: `main()`, then the process ends without the interpreter's
    teardown of the ~450,000 objects a refresh loaded (~1.3 s of every refresh; `orchestration.process`)."""
    from orchestration.process import exit_without_teardown

    exit_without_teardown(main())


if __name__ == "__main__":
    run()
