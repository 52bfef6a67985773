"""`make bench`: time a full build and the next hour's refresh, per stage, with peak memory per phase.

Phases, each its own `actionhouse` process on a scratch data folder (`bench_data/build_<contacts>`, emptied
first), so the figures are what a user sees from the command line:

1. generation (`actionhouse generate`), cached: the world for (contacts, seed, hash of the `sample_world`
   sources) is generated once into `bench_data/worlds/` and placed into the scratch folder (landing files hard
   linked, truth copied; `bench/world_cache.py`). `generate_seconds` is the time of the generation that made
   the cached world (said when it was reused).
2. full build: `actionhouse refresh` on the new world.
3. next hour: `actionhouse generate --hours 1` (not timed in the figure), then `actionhouse refresh`: only new
   files load, entity resolution re-resolves only the changed records.
4. second hour: the same again. The first hour after a full build still carries one-off work of that build (the
   full build's ~110,000 proposals at 1M are new decisions for the decision log and the outcome marts, the lead
   tiers appear for the first time); the second is an hour like any later one. `next_hour_seconds` stays the
   first (the issue's goal figure), `second_hour_seconds` is the second.

Stages. The time of a refresh process is split into stages that add up to its wall time:
- `startup`: process start to the first step's start: interpreter and imports, `dbt parse` (skipped when the
  project is unchanged), Dagster definitions load, run start, recovery of dead runs.
- Dagster steps (run step stats of the scratch Dagster instance): `load_landing_files` -> `ingest`,
  `raw_quality_gates` -> `raw_gates`, `staging_quality_gates` / `golden_quality_gates` / `scores_quality_gates`
  -> `model_gates`, `ml__*` -> `scoring`, `actions__proposals` / `queue_promises` -> `proposals`,
  `console__publication` -> `publication`; any other step -> `other`.
- The dbt step (`actionhouse_dbt_models`) is split by dbt node (models and the tests on them, from
  `target/build/run_results.json` of that build: each node's compile start to execute end), by the model's
  folder: `staging/*` -> `staging`, `intermediate/leads` -> `lead_capture`, `intermediate/entities`
  (`int_entities__*`) -> `resolution`, `intermediate/enrichment` and `marts/entities` (golden records,
  crosswalks, merge proposals) -> `golden`, `marts/features` (`fct_lead_features`, `fct_account_features`) ->
  `features`, `marts/actions` and `marts/pipeline` -> `action_marts`, `marts/outcomes` (the closed loop's outcome
  events, workflow outcomes and lift) -> `outcomes`; seeds -> `dbt_other`. dbt runs nodes on
  several threads, so node times overlap: each instant of the step is shared equally among the nodes running
  then (two nodes running for 10 s get 5 s each), which makes the stages add up to the step's wall time. What
  no node covers (dbt's own start and parse, `dbt source freshness`, row counts added to the metadata) is
  `dbt_other`. The run_results.json is used only if its invocation ran inside the dbt step (every dbt build of
  the checkout writes that folder: run no other refresh or test suite from the checkout during a bench).
- gaps between steps (Dagster's step launch) -> `other`; last step end to process exit -> `finish`.

`fixed_cost_seconds` is `startup + finish` of the next-hour refresh: what a refresh costs however little is
new, measured inside a real hourly refresh (not a separate empty run, which would still rebuild every table).

Memory: `peak_rss_mb` is the largest resident set of any one process of a phase (the refresh or the dbt it
starts; `wait4` of the phase's process, exact); `tree_rss_mb` in the stage lines is the largest sum over the
phase's process tree, sampled every 0.2 s from /proc (Linux). The last line's `peak_rss_mb` is the largest over
the phases.

Where the memory goes: each 0.2 s sample of the tree's resident set counts for the stages running at its instant
(the Dagster step's stage; inside the dbt step, the stage of every dbt node running then, `dbt_other` when none is;
`startup` before the first step, `finish` after the last, `other` between steps) and for every dbt node running
then. `bench-memory phase=… <stage>=<peak MB> … top_nodes=<model>:<peak MB>,…` gives each stage's largest sample
(0: no sample) and the five dbt nodes with the largest. dbt runs nodes on several threads, so a sample taken while
two nodes run counts for both: the node that holds the memory is the one whose peak stands alone.

Where the cores go: `bench-cpu phase=… cpu_seconds=… cores=… <group>_cpu=… <group>_cores=…` per refresh.
`cpu_seconds` is the user + system time of the refresh and every process it waited for (`wait4`, exact); `cores`
is that over the wall time (2.0: both cores of this machine busy all along). Each group (`startup`, `ingest`,
`raw_gates`, `dbt` - the dbt step whole -, `model_gates`, `scoring`, `proposals`, `publication`, `other`,
`finish`) gets the process tree's CPU sampled with the memory, and its cores: a group well under 2.0 leaves a
core idle, where running work side by side could still pay; one near 2.0 only gets faster by doing less.

Prints one `bench-stages phase=… seconds=… <stage>=…`, one `bench-memory` and one `bench-cpu` line per refresh
(the full build's as soon as it ends) and ends with
`bench contacts=… generate_seconds=… full_build_seconds=… next_hour_seconds=… second_hour_seconds=…
fixed_cost_seconds=… peak_rss_mb=…`.
After each refresh it lists the 15 slowest Dagster steps and dbt nodes. Each run is appended to
`bench_data/pipeline_results.jsonl`; `--plot FILE.png` draws the latest run per size
from it (a stacked bar per size and phase; needs the bench dependency group) and exits; `--table` prints the same
runs as docs/scaling.md's Markdown table (seconds per stage, wall time, peak memory per phase) and exits.

`--next-hour-only` (`make bench-next-hour`): only the next hour, on the data folder a previous full run left
(`--data-dir`, default `bench_data/build_<contacts>`), which it never changes: the folder is copied into a scratch
folder (`--scratch-dir`, default `bench_data/next_hour_<contacts>`, replaced each run; landing files hard-linked,
since a refresh only reads them and the next hour's generation only adds new ones; the rest copied), the dbt
manifest is parsed for the copy (as the full build does before `make bench`'s next hour), one more hour is
generated and refreshed, and it prints the `bench-stages` and `bench-memory` lines of that refresh,
`bench-next-hour contacts=… next_hour_seconds=… fixed_cost_seconds=… peak_rss_mb=… base=…` (the refresh's peak)
and the slowest Dagster steps and dbt nodes. `--repeat K` measures K hours, each on a fresh copy. Its records in
the results file carry `"kind": "next_hour_only"`; `--plot` draws full runs only. The scratch copy is deleted at
the end unless `--keep` (kept when the refresh fails).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.world_cache import cached_world, place_world
from landing.ingest import landing_settle_seconds
from orchestration.dbt import build_target_path
from orchestration.settings import DBT_PROJECT_DIR, PROJECT_ROOT

RESULTS_FILE = PROJECT_ROOT / "bench_data" / "pipeline_results.jsonl"
# `kind` of a results record: a full `make bench` run (records without a kind are full runs too) or one next hour
# on a copy of a built folder (`--next-hour-only`), which has no full build nor generation figures.
FULL_RUN, NEXT_HOUR_ONLY = "full", "next_hour_only"
# Written into a scratch folder of `--next-hour-only`: only a folder carrying it is ever deleted by the bench.
SCRATCH_MARKER = ".bench_next_hour_scratch"
DBT_STEP = "actionhouse_dbt_models"
STEP_STAGES = {
    "load_landing_files": "ingest",
    "raw_quality_gates": "raw_gates",
    "staging_quality_gates": "model_gates",
    "golden_quality_gates": "model_gates",
    "scores_quality_gates": "model_gates",
    "actions__proposals": "proposals",
    "queue_promises": "proposals",
    "console__publication": "publication",
}
# dbt model folders (under models/) -> stage; the longest matching prefix wins.
DBT_FOLDER_STAGES = {
    ("staging",): "staging",
    ("intermediate", "leads"): "lead_capture",
    ("intermediate", "entities"): "resolution",
    ("intermediate", "enrichment"): "golden",
    ("marts", "entities"): "golden",
    ("marts", "features"): "features",
    ("marts", "actions"): "action_marts",
    ("marts", "pipeline"): "action_marts",
    ("marts", "outcomes"): "outcomes",
}
# Printing order: the order a refresh runs them in.
STAGES = (
    "startup",
    "ingest",
    "raw_gates",
    "staging",
    "lead_capture",
    "resolution",
    "golden",
    "features",
    "action_marts",
    "outcomes",
    "dbt_other",
    "model_gates",
    "scoring",
    "proposals",
    "publication",
    "other",
    "finish",
)


def step_stage(step_key: str) -> str:
    """The stage of a Dagster step (the dbt step is split further by `dbt_node_stages`)."""
    if step_key in STEP_STAGES:
        return STEP_STAGES[step_key]
    return "scoring" if step_key.startswith("ml__") else "other"


def model_stage(original_file_path: str) -> str:
    """The stage of a dbt model by its file, e.g. `models/intermediate/entities/int_entities__contact_pairs.py`."""
    parts = Path(original_file_path).parts
    folders = parts[1:-1] if parts and parts[0] == "models" else ()
    for length in range(len(folders), 0, -1):
        stage = DBT_FOLDER_STAGES.get(tuple(folders[:length]))
        if stage:
            return stage
    return "dbt_other"


def dbt_node_stages(manifest: Mapping) -> dict[str, str]:
    """unique_id -> stage for every model, seed, data test and unit test of a dbt manifest; a test takes the
    stage of the model it tests."""
    nodes = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}
    stages: dict[str, str] = {}
    for unique_id, node in nodes.items():
        if node.get("resource_type") == "model":
            stages[unique_id] = model_stage(node.get("original_file_path", ""))
    for unique_id, node in nodes.items():
        if unique_id in stages:
            continue
        tested = [node.get("attached_node"), *node.get("depends_on", {}).get("nodes", [])]
        stages[unique_id] = next((stages[n] for n in tested if n in stages), "dbt_other")
    return stages


def dbt_node_runs(run_results: Mapping, stages: Mapping[str, str]) -> list[tuple[str, str, float, float]]:
    """(unique_id, stage, start, end) in epoch seconds of every node of a dbt run_results.json that ran."""
    runs = []
    for result in run_results.get("results", []):
        timing = [t for t in result.get("timing", []) if t.get("started_at") and t.get("completed_at")]
        if not timing:
            continue
        start = min(datetime.fromisoformat(t["started_at"]).timestamp() for t in timing)
        end = max(datetime.fromisoformat(t["completed_at"]).timestamp() for t in timing)
        runs.append((result["unique_id"], stages.get(result["unique_id"], "dbt_other"), start, end))
    return runs


def dbt_node_intervals(run_results: Mapping, stages: Mapping[str, str]) -> list[tuple[str, float, float]]:
    """(stage, start, end) in epoch seconds of every node of a dbt run_results.json that ran."""
    return [(stage, start, end) for _, stage, start, end in dbt_node_runs(run_results, stages)]


def share_overlapping(intervals: Iterable[tuple[str, float, float]]) -> dict[str, float]:
    """Seconds per stage when every instant is shared equally among the intervals covering it: the result adds
    up to the length of the union of the intervals."""
    events = sorted({t for _, start, end in intervals for t in (start, end)})
    intervals = list(intervals)
    shares: dict[str, float] = {}
    for left, right in zip(events, events[1:], strict=False):
        running = [stage for stage, start, end in intervals if start <= left and end >= right]
        for stage in running:
            shares[stage] = shares.get(stage, 0.0) + (right - left) / len(running)
    return shares


def stage_seconds(
    process_start: float,
    process_end: float,
    steps: Iterable[tuple[str, float, float]],
    dbt_intervals: Iterable[tuple[str, float, float]] = (),
) -> dict[str, float]:
    """Seconds per stage (every name of `STAGES`) of one refresh process; they add up to its wall time.

    `steps`: (step key, start, end) of the run's steps; `dbt_intervals`: (stage, start, end) of the dbt nodes
    of the run's dbt step (clipped to that step). All times in epoch seconds."""
    seconds = dict.fromkeys(STAGES, 0.0)
    steps = sorted(steps, key=lambda step: step[1])
    if not steps:
        seconds["other"] = process_end - process_start
        return seconds
    seconds["startup"] = steps[0][1] - process_start
    seconds["finish"] = process_end - max(end for _, _, end in steps)
    covered_until = steps[0][1]
    for key, start, end in steps:
        seconds["other"] += max(0.0, start - covered_until)  # Dagster between steps
        if key == DBT_STEP:
            clipped = [(s, max(a, start), min(b, end)) for s, a, b in dbt_intervals if min(b, end) > max(a, start)]
            shares = share_overlapping(clipped)
            for stage, share in shares.items():
                seconds[stage] += share
            seconds["dbt_other"] += (end - start) - sum(shares.values())
        else:
            seconds[step_stage(key)] += end - start
        covered_until = max(covered_until, end)
    return seconds


def _outside_steps(at: float, steps: list[tuple[str, float, float]], in_a_step: bool) -> str | None:
    """The stage of an instant no step covers (`startup` before the first step, `finish` after the last, `other`
    between steps; `steps` sorted by start), or None when `in_a_step`."""
    if not steps or at < steps[0][1]:
        return "startup"
    if at > max(end for _, _, end in steps):
        return "finish"
    return None if in_a_step else "other"


def memory_by_stage(
    samples: Iterable[tuple[float, float]],
    steps: Iterable[tuple[str, float, float]],
    dbt_nodes: Iterable[tuple[str, str, float, float]] = (),
) -> tuple[dict[str, float], dict[str, float]]:
    """Peak sampled memory per stage and per dbt node of one refresh process.

    `samples`: (epoch seconds, tree MB) taken while the process ran; `steps` as in `stage_seconds`; `dbt_nodes`:
    (unique_id, stage, start, end) of the dbt step's nodes. A sample counts for every stage running at its
    instant (the Dagster step's stage; inside the dbt step, the stage of each node running then, or `dbt_other`
    when none is; before the first step `startup`, after the last `finish`, between steps `other`) and for every
    dbt node running then. Returns ({stage: peak MB} for the stages that had a sample, {unique_id: peak MB})."""
    steps = sorted(steps, key=lambda step: step[1])
    dbt_nodes = list(dbt_nodes)
    by_stage: dict[str, float] = {}
    by_node: dict[str, float] = {}

    def note(peaks: dict[str, float], key: str, mb: float) -> None:
        peaks[key] = max(peaks.get(key, 0.0), mb)

    for at, mb in samples:
        running = [(key, start, end) for key, start, end in steps if start <= at <= end]
        if outside := _outside_steps(at, steps, bool(running)):
            note(by_stage, outside, mb)
        for key, start, end in running:
            if key != DBT_STEP:
                note(by_stage, step_stage(key), mb)
                continue
            nodes = [(uid, stage) for uid, stage, a, b in dbt_nodes if max(a, start) <= at <= min(b, end)]
            for uid, stage in nodes:
                note(by_stage, stage, mb)
                note(by_node, uid, mb)
            if not nodes:
                note(by_stage, "dbt_other", mb)
    return by_stage, by_node


def node_name(unique_id: str) -> str:
    """A dbt node's short name: `model.p.dim_contacts` -> `dim_contacts`; a data test's id ends with a hash
    (`test.p.not_null_dim_contacts_id.827bd7db81`), so its name is the part before it."""
    parts = unique_id.split(".")
    return parts[2] if parts[0] == "test" and len(parts) > 3 else parts[-1]


def memory_line(name: str, phase: Phase, top: int = 5) -> str:
    """`bench-memory phase=<name> <stage>=<peak MB> … top_nodes=<node>:<MB>,…` (stages without a sample: 0)."""
    parts = " ".join(f"{stage}={phase.stage_peak_mb.get(stage, 0.0):.0f}" for stage in STAGES)
    nodes = sorted(phase.node_peak_mb.items(), key=lambda item: -item[1])[:top]
    top_nodes = ",".join(f"{node_name(uid)}:{mb:.0f}" for uid, mb in nodes) or "-"
    return f"bench-memory phase={name} {parts} top_nodes={top_nodes}"


# Where the cores went, by Dagster step (the dbt step whole: its nodes run several at once, so a node's share of
# the CPU cannot be told apart), in the order a refresh runs them.
CPU_GROUPS = (
    "startup", "ingest", "raw_gates", "dbt", "model_gates", "scoring", "proposals", "publication", "other", "finish",
)  # fmt: skip


def cpu_by_group(
    cpu_samples: Iterable[tuple[float, float]], steps: Iterable[tuple[str, float, float]]
) -> dict[str, tuple[float, float]]:
    """CPU seconds and wall seconds per group of `CPU_GROUPS` of one refresh process, from its tree's CPU sampled
    every 0.2 s (`cpu_samples`: (epoch seconds, cumulative CPU s)); `steps` as in `stage_seconds`. Each interval
    between two samples counts for the group running at its middle (a step's stage, `dbt` for the dbt step,
    `startup` before the first step, `finish` after the last, `other` between steps). A process that ends
    unreaped between two samples takes its last 0.2 s with it: a drop counts as nothing, not as negative."""
    steps = sorted(steps, key=lambda step: step[1])
    samples = list(cpu_samples)
    groups: dict[str, tuple[float, float]] = {}
    for (t0, c0), (t1, c1) in zip(samples, samples[1:], strict=False):
        middle = (t0 + t1) / 2
        running = [key for key, start, end in steps if start <= middle <= end]
        group = _outside_steps(middle, steps, bool(running))
        if group is None:
            group = "dbt" if running[0] == DBT_STEP else step_stage(running[0])
            group = group if group in CPU_GROUPS else "other"
        cpu, wall = groups.get(group, (0.0, 0.0))
        groups[group] = (cpu + max(0.0, c1 - c0), wall + (t1 - t0))
    return groups


def cpu_line(name: str, phase: Phase) -> str:
    """`bench-cpu phase=<name> cpu_seconds=… cores=… <group>_cpu=… <group>_cores=… …`: the phase's CPU (exact, from
    `wait4`) and cores used on average, then each group's sampled CPU seconds and cores (CPU / wall; 2.0 is both
    cores of this machine busy all along)."""
    cores = phase.cpu_seconds / phase.seconds if phase.seconds else 0.0
    parts = []
    for group in CPU_GROUPS:
        cpu, wall = phase.stage_cpu.get(group, (0.0, 0.0))
        parts.append(f"{group}_cpu={cpu:.1f} {group}_cores={cpu / wall if wall else 0.0:.2f}")
    return f"bench-cpu phase={name} cpu_seconds={phase.cpu_seconds:.1f} cores={cores:.2f} {' '.join(parts)}"


@dataclass
class Phase:
    """One `actionhouse` process: wall time and memory."""

    seconds: float
    started: float
    ended: float
    peak_rss_mb: float
    tree_rss_mb: float
    stages: dict[str, float] = field(default_factory=dict)
    samples: list[tuple[float, float]] = field(default_factory=list)  # (epoch seconds, tree MB) every 0.2 s
    stage_peak_mb: dict[str, float] = field(default_factory=dict)
    node_peak_mb: dict[str, float] = field(default_factory=dict)
    steps: list[tuple[str, float, float]] = field(default_factory=list)  # (step key, start, end) of its run
    dbt_nodes: list[tuple[str, str, float, float]] = field(default_factory=list)  # (unique_id, stage, start, end)
    cpu_seconds: float = 0.0  # user + system time of the process and every descendant it reaped (`wait4`)
    cpu_samples: list[tuple[float, float]] = field(default_factory=list)  # (epoch seconds, tree CPU s) every 0.2 s
    stage_cpu: dict[str, tuple[float, float]] = field(default_factory=dict)  # CPU_GROUPS -> (CPU s, sampled wall s)


def _process_tree_usage(root: int) -> tuple[int, float]:
    """Resident bytes and CPU seconds of `root` and all its descendants now (Linux /proc).

    CPU is each process's user + system time plus that of its children it has reaped (`cutime`, `cstime`): a
    finished dbt process counts in the refresh that waited for it, a live one in itself, so none counts twice."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21])
        ticks[pid] = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    tree, frontier = {root}, [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier and pid not in tree]
        tree.update(children)
        frontier = children
    resident = sum(rss.get(pid, 0) for pid in tree) * os.sysconf("SC_PAGE_SIZE")
    return resident, sum(ticks.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def _run_phase(args: list[str], env: Mapping[str, str]) -> Phase:
    """Run `actionhouse <args>` to the end; its wall time and memory (see the module docstring)."""
    started, clock = time.time(), time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "orchestration.cli", *args], env=dict(env), cwd=PROJECT_ROOT)
    samples: list[tuple[float, float]] = []
    cpu_samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            with contextlib.suppress(OSError):
                resident, cpu = _process_tree_usage(proc.pid)
                at = time.time()
                samples.append((at, resident / 2**20))
                cpu_samples.append((at, cpu))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        # wait4: the child's rusage, whose ru_maxrss covers its reaped descendants too (KiB on Linux).
        _, status, usage = os.wait4(proc.pid, 0)
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        raise
    finally:
        done.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, proc.args)
    return Phase(
        seconds=time.perf_counter() - clock,
        started=started,
        ended=time.time(),
        peak_rss_mb=usage.ru_maxrss / 1024,
        tree_rss_mb=max((mb for _, mb in samples), default=0.0),
        samples=samples,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        cpu_samples=cpu_samples,
    )


def refresh_stages(phase: Phase, dagster_home: Path, dbt_target: Path = DBT_PROJECT_DIR / "target" / "build") -> dict:
    """Stage seconds of the refresh that `phase` timed: its run's step stats from the Dagster instance in
    `dagster_home`, its dbt nodes from the build's run_results.json (only if written during the phase). Also
    sets the phase's peak memory per stage and per dbt node (`memory_by_stage` of its samples)."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = [
            run
            for run in instance.get_runs(limit=5)
            if (stats := instance.get_run_stats(run.run_id)).start_time and stats.start_time >= phase.started
        ]
        if not runs:
            phase.stage_peak_mb, phase.node_peak_mb = memory_by_stage(phase.samples, [])
            phase.stage_cpu = cpu_by_group(phase.cpu_samples, [])
            return stage_seconds(phase.started, phase.ended, [])
        step_stats = instance.get_run_step_stats(runs[-1].run_id)  # the first run this phase started
    steps = [(s.step_key, s.start_time, s.end_time) for s in step_stats if s.start_time and s.end_time]
    nodes: list[tuple[str, str, float, float]] = []
    results_path, manifest_path = dbt_target / "run_results.json", dbt_target / "manifest.json"
    dbt_step = next(((start, end) for key, start, end in steps if key == DBT_STEP), None)
    if dbt_step and results_path.exists() and manifest_path.exists():
        run_results = json.loads(results_path.read_text())
        if run_results_within(run_results, *dbt_step):
            nodes = dbt_node_runs(run_results, dbt_node_stages(json.loads(manifest_path.read_text())))
        else:
            print(
                f"bench: warning: {results_path} is not from this refresh's dbt build (another dbt build wrote it?): "
                "its dbt step counts as dbt_other",
                file=sys.stderr,
            )
    phase.stage_peak_mb, phase.node_peak_mb = memory_by_stage(phase.samples, steps, nodes)
    phase.stage_cpu = cpu_by_group(phase.cpu_samples, steps)
    phase.steps, phase.dbt_nodes = steps, nodes
    return stage_seconds(phase.started, phase.ended, steps, [(stage, a, b) for _, stage, a, b in nodes])


def run_results_within(run_results: Mapping, start: float, end: float) -> bool:
    """Whether a dbt run_results.json is from an invocation that started and finished inside [start, end]."""
    metadata = run_results.get("metadata", {})
    try:
        started = datetime.fromisoformat(metadata["invocation_started_at"]).timestamp()
        generated = datetime.fromisoformat(metadata["generated_at"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return False
    return start <= started and generated <= end


def stages_line(name: str, phase: Phase) -> str:
    """`bench-stages phase=<name> seconds=… <stage>=… peak_rss_mb=… tree_rss_mb=…`."""
    parts = " ".join(f"{stage}={phase.stages.get(stage, 0.0):.1f}" for stage in STAGES)
    return (
        f"bench-stages phase={name} seconds={phase.seconds:.1f} {parts} "
        f"peak_rss_mb={phase.peak_rss_mb:.0f} tree_rss_mb={phase.tree_rss_mb:.0f}"
    )


class NoFullRunError(ValueError):
    """The results file has no full `make bench` run (e.g. only `--next-hour-only` records): nothing to plot."""


def is_full_run(record: Mapping) -> bool:
    """Whether a results record is a full `make bench` run (older records have no `kind`: all were full runs)."""
    return record.get("kind", FULL_RUN) == FULL_RUN


def fixed_cost_seconds(phase: Phase) -> float:
    """What a refresh costs however little it has to do: its `startup` plus its `finish` stage."""
    return phase.stages.get("startup", 0.0) + phase.stages.get("finish", 0.0)


def slowest_lines(phase: Phase, top: int = 15) -> list[str]:
    """Readable lines of the `top` slowest Dagster steps and dbt nodes of a refresh (`refresh_stages` sets them):
    seconds, start after the process start, stage, name."""
    lines = ["bench: slowest Dagster steps (seconds, start after the process start, stage):"]
    steps = sorted(phase.steps, key=lambda step: step[1] - step[2])[:top]
    for key, start, end in steps:
        stage = "dbt" if key == DBT_STEP else step_stage(key)  # the dbt step's stages: the node list below
        lines.append(f"  {end - start:7.1f}  {f'+{start - phase.started:.1f}':>7}  {stage:12s}  {key}")
    lines.append(
        "bench: slowest dbt nodes (seconds from compile start to execute end; dbt runs several at once, so they "
        "overlap):"
    )
    nodes = sorted(phase.dbt_nodes, key=lambda node: node[2] - node[3])[:top]
    lines += [
        f"  {end - start:7.1f}  {f'+{start - phase.started:.1f}':>7}  {stage:12s}  {node_name(uid)[:100]}"
        for uid, stage, start, end in nodes
    ]
    if not phase.dbt_nodes:
        lines.append("  (none: no run_results.json of this refresh's dbt build)")
    return lines


def base_problem(base: Path) -> str | None:
    """Why `base` is not a data folder a full `make bench` run built (None when it is): it needs the landing
    files, the truth, the warehouse and a Dagster instance whose latest refresh run succeeded. Reads only (the
    run history is opened read-only)."""
    if not base.is_dir():
        return f"there is no data folder at {base}"
    needed = ("landing", "truth/world_state.json", "warehouse.duckdb", "dagster_home/history/runs.db")
    missing = [name for name in needed if not (base / name).exists()]
    if missing:
        return f"{base} is not a built bench data folder (missing {', '.join(missing)})"
    runs_db = (base / "dagster_home" / "history" / "runs.db").resolve()
    try:
        with contextlib.closing(sqlite3.connect(f"file:{runs_db}?mode=ro", uri=True)) as con:
            latest = con.execute("SELECT run_id, status FROM runs ORDER BY create_timestamp DESC, id DESC").fetchone()
    except sqlite3.Error as error:
        return f"the Dagster run history of {base} cannot be read ({error})"
    if latest is None:
        return f"{base} has never been refreshed"
    if latest[1] != "SUCCESS":
        return f"the last refresh of {base} (run {latest[0][:8]}) did not succeed: {latest[1]}"
    return None


def prepare_scratch(base: Path, scratch: Path) -> None:
    """Make `scratch` a copy of the built data folder `base`, replacing an earlier scratch copy: landing files
    hard-linked (copied across file systems), everything else copied. `base` is only read.

    Hard links are safe because nothing writes into an existing landing file: ingest opens them read-only, the
    next hour's generation writes new files named after the hour (`_h0002`), `stage_file` writes a new name by
    rename. The truth is copied (`generate --hours` rewrites `world_state.json` in place). A folder that exists
    is deleted only if it is empty or an earlier scratch copy (it carries `SCRATCH_MARKER`)."""
    base, scratch = base.resolve(), scratch.resolve()
    if scratch == base or base in scratch.parents or scratch in base.parents:
        raise ValueError(f"the scratch folder {scratch} must be outside the data folder {base} and not contain it")
    if scratch.exists():
        if any(scratch.iterdir()) and not (scratch / SCRATCH_MARKER).exists():
            raise ValueError(
                f"{scratch} exists and is not a scratch copy of this bench (no {SCRATCH_MARKER}): "
                "delete it yourself or pass another --scratch-dir"
            )
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    (scratch / SCRATCH_MARKER).write_text(f"a copy of {base} made by `python -m bench.pipeline --next-hour-only`\n")
    place_world(base, scratch)  # landing hard-linked, truth copied
    for item in sorted(base.iterdir()):
        if item.name in ("landing", "truth"):
            continue
        if item.is_dir() and not item.is_symlink():
            shutil.copytree(item, scratch / item.name, symlinks=True)
        else:
            shutil.copy2(item, scratch / item.name, follow_symlinks=False)


def delete_scratch(scratch: Path) -> None:
    """Delete a scratch copy made by `prepare_scratch` (a folder without its marker is left alone)."""
    if (scratch / SCRATCH_MARKER).exists():
        shutil.rmtree(scratch)


def tree_stamp(folder: Path) -> dict[str, tuple[int, int]]:
    """(size, modification time in ns) of every file under `folder`, by relative path: what would show a write."""
    stamps = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            stat = path.stat()
            stamps[path.relative_to(folder).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return stamps


def next_hour_record(
    contacts: int, seed: int, base: Path, hour: Phase, copy_seconds: float, run: int = 1, runs: int = 1
) -> dict:
    """The results-file record of one `--next-hour-only` measurement (`kind` keeps it apart from full runs; its
    `stages`, `stage_peak_mb` and `top_dbt_node_peak_mb` have only the `next_hour` phase)."""
    fixed_cost = fixed_cost_seconds(hour)
    return {
        "kind": NEXT_HOUR_ONLY,
        "contacts": contacts,
        "seed": seed,
        "commit": _commit(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "base": str(base),
        "run": run,
        "runs": runs,
        "copy_seconds": round(copy_seconds, 1),
        "next_hour_seconds": round(hour.seconds, 1),
        "fixed_cost_seconds": round(fixed_cost, 1),
        "peak_rss_mb": round(hour.peak_rss_mb),
        "tree_rss_mb": {"next_hour": round(hour.tree_rss_mb)},
        "stage_peak_mb": {"next_hour": {k: round(v) for k, v in hour.stage_peak_mb.items()}},
        "top_dbt_node_peak_mb": {
            "next_hour": dict(sorted(((k, round(v)) for k, v in hour.node_peak_mb.items()), key=lambda kv: -kv[1])[:10])
        },
        "stages": {"next_hour": {k: round(v, 2) for k, v in hour.stages.items()}},
        "cpu_seconds": {"next_hour": round(hour.cpu_seconds, 1)},
        "group_cpu_seconds": {"next_hour": _group_cpu(hour)},
    }


def _group_cpu(phase: Phase) -> dict[str, float]:
    """A phase's sampled CPU seconds per group (`cpu_by_group`), for the results file."""
    return {group: round(cpu, 1) for group, (cpu, _) in phase.stage_cpu.items()}


def next_hour_line(record: Mapping) -> str:
    """`bench-next-hour contacts=… next_hour_seconds=… fixed_cost_seconds=… peak_rss_mb=… [run=i/K] base=…`."""
    run = f" run={record['run']}/{record['runs']}" if record.get("runs", 1) > 1 else ""
    return (
        f"bench-next-hour contacts={record['contacts']} next_hour_seconds={record['next_hour_seconds']:.1f} "
        f"fixed_cost_seconds={record['fixed_cost_seconds']:.1f} peak_rss_mb={record['peak_rss_mb']}{run} "
        f"base={record['base']}"
    )


def wait_for_landing_to_settle(landing_dir: Path) -> float:
    """Wait (untimed) until the newest landing file is older than the ingest's settle time; the seconds waited.

    The ingest loads a file only once it has gone unchanged for `ACTIONHOUSE_LANDING_SETTLE_SECONDS` (5 s) and
    waits for younger ones. The bench generates each hour right before refreshing it, so without this the timed
    refresh would wait for files its own generation just wrote: a scheduled refresh finds them minutes old."""
    newest_ns = max((path.stat().st_mtime_ns for path in landing_dir.rglob("*") if path.is_file()), default=0)
    settle = landing_settle_seconds() + 0.1
    # A modification time in the future (a skewed clock) waits the settle time once, as the ingest does.
    wait = min(settle, settle - (time.time_ns() - newest_ns) / 1e9)
    if wait > 0:
        time.sleep(wait)
    return max(wait, 0.0)


def parse_for_builds(env: Mapping[str, str]) -> float:
    """Parse the dbt project into the refresh's build folder under `env` (untimed), as an hourly refresh finds it:
    its partial parse then holds for the refresh's `dbt build`. The seconds it took."""
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestration.dbt_process",
            "parse",
            "--quiet",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(build_target_path()),
        ],
        env=dict(env),
        cwd=DBT_PROJECT_DIR,
        check=True,
    )
    return time.perf_counter() - started


def _phase_env(data_dir: Path) -> dict[str, str]:
    """The environment of an `actionhouse` phase on `data_dir` (its own Dagster instance, default paths)."""
    env = {**os.environ, "ACTIONHOUSE_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(data_dir / "dagster_home")}
    for key in ("ACTIONHOUSE_WAREHOUSE", "ACTIONHOUSE_LANDING_DIR"):
        env.pop(key, None)
    return env


def _manifest_stamp() -> tuple[int, int] | None:
    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    return (manifest.stat().st_size, manifest.stat().st_mtime_ns) if manifest.exists() else None


def run_next_hour_only(
    base: Path, scratch: Path, contacts: int | None, repeat: int, keep: bool, results_file: Path
) -> int:
    """`--next-hour-only`: the next hour's refresh on copies of the built folder `base` (see the module docstring)."""
    problem = base_problem(base)
    if problem:
        size = f" CONTACTS={contacts}" if contacts else ""
        print(f"bench: {problem}. Build it first with `make bench{size}` (or pass its --data-dir).", file=sys.stderr)
        return 2
    world = json.loads((base / "truth" / "world_state.json").read_text())
    if contacts is not None and world.get("contacts") != contacts:
        print(f"bench: {base} holds {world.get('contacts')} contacts, not {contacts}", file=sys.stderr)
        return 2
    contacts = world.get("contacts", contacts)
    before = tree_stamp(base)
    records = []
    for run in range(1, repeat + 1):
        copying = time.perf_counter()
        prepare_scratch(base, scratch)
        copy_seconds = time.perf_counter() - copying
        print(f"bench: copied {base} into {scratch} in {copy_seconds:.1f} s (landing hard-linked)", flush=True)
        env = _phase_env(scratch.resolve())
        # Prepare the dbt manifest now (a parse only if the project changed since it was last prepared; another
        # data folder alone needs none): the timed refresh then pays no parse, like a real hourly one.
        parse_env = {**env, "ACTIONHOUSE_WAREHOUSE": str(scratch.resolve() / "warehouse.duckdb")}
        parse = _run_phase(["prepare"], parse_env)
        # The refresh's `dbt build` keeps its own partial parse in the build folder, last written for another
        # folder's warehouse (dbt: "profile has changed"): parsed for this one too, or the timed hour parses again.
        build_parse = parse_for_builds(parse_env)
        print(f"bench: dbt manifest prepared in {parse.seconds + build_parse:.1f} s (not timed)", flush=True)
        generation = _run_phase(["generate", "--hours", "1"], env)
        print(f"bench: hour {world.get('hour', 0) + 1} generated in {generation.seconds:.1f} s (not timed)", flush=True)
        waited = wait_for_landing_to_settle(scratch / "landing")
        print(f"bench: waited {waited:.1f} s for the hour's landing files to settle (not timed)", flush=True)
        manifest = _manifest_stamp()
        try:
            hour = _run_phase(["refresh"], env)
        except BaseException:
            print(f"bench: the refresh failed or was interrupted; {scratch} is kept for a look", file=sys.stderr)
            raise
        if _manifest_stamp() != manifest:
            print("bench: warning: the refresh parsed the dbt project again (its startup includes a dbt parse)")
        hour.stages = refresh_stages(hour, scratch / "dagster_home")
        print(f"bench: the next hour's refresh took {hour.seconds:.1f} s")
        print(stages_line("next_hour", hour))
        print(memory_line("next_hour", hour))
        print(cpu_line("next_hour", hour))
        record = next_hour_record(contacts, world.get("seed"), base, hour, copy_seconds, run, repeat)
        print(next_hour_line(record))
        print("\n".join(slowest_lines(hour)), flush=True)
        results_file.parent.mkdir(parents=True, exist_ok=True)
        with results_file.open("a") as results:
            results.write(json.dumps(record) + "\n")
        records.append(record)
    if repeat > 1:
        seconds = [r["next_hour_seconds"] for r in records]
        print(
            f"bench-next-hour-runs contacts={contacts} runs={repeat} "
            f"next_hour_seconds={','.join(f'{x:.1f}' for x in seconds)} median={statistics.median(seconds):.1f}"
        )
    after = tree_stamp(base)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    if changed:
        print(f"bench: warning: {base} changed during the bench: {', '.join(changed[:10])}", file=sys.stderr)
    if keep:
        print(f"bench: the scratch copy is kept in {scratch}")
    else:
        deleting = time.perf_counter()
        delete_scratch(scratch)
        print(f"bench: deleted the scratch copy {scratch} in {time.perf_counter() - deleting:.1f} s (--keep keeps it)")
    return 0


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def latest_full_runs(results_file: Path) -> dict[int, dict]:
    """The latest full `make bench` run per size in `results_file` (`--next-hour-only` records left out), by size."""
    latest: dict[int, dict] = {}
    for line in results_file.read_text().splitlines():
        if line.strip():
            run = json.loads(line)
            if is_full_run(run):
                latest[run["contacts"]] = run
    if not latest:
        raise NoFullRunError(f"{results_file} has no full `make bench` run to show")
    return latest


PHASES = ("full_build", "next_hour", "second_hour")


def _size_label(contacts: int) -> str:
    """10000 -> '10k', 1000000 -> '1M' (other sizes with thousands separators)."""
    for unit, name in ((1_000_000, "M"), (1_000, "k")):
        if contacts % unit == 0:
            return f"{contacts // unit}{name}"
    return f"{contacts:,}"


def markdown_table(results_file: Path) -> str:
    """The Markdown table of docs/scaling.md's "Measured": seconds per stage, the process's wall time and peak
    memory, for each phase of the latest full run per size in `results_file` (the runs `--plot` draws)."""
    latest = latest_full_runs(results_file)
    # A phase a run has (runs before the second hour was timed have two).
    columns = [(run, phase) for _, run in sorted(latest.items()) for phase in PHASES if f"{phase}_seconds" in run]
    header = ["stage"] + [f"{_size_label(run['contacts'])} {phase.replace('_', ' ')}" for run, phase in columns]

    def row(label: str, values: Iterable[str]) -> str:
        return "| " + " | ".join([label, *values]) + " |"

    lines = [row(header[0], header[1:]), "|---|" + "---:|" * len(columns)]
    for stage in STAGES:
        lines.append(row(f"`{stage}`", (f"{run['stages'][phase].get(stage, 0.0):.1f}" for run, phase in columns)))
    lines.append(row("**process wall time**", (f"**{run[f'{phase}_seconds']:.1f}**" for run, phase in columns)))
    lines.append(
        row(
            "peak RSS of one process (MB)",
            (f"{run.get('peak_rss_mb_by_phase', {}).get(phase, run['peak_rss_mb'])}" for run, phase in columns),
        )
    )
    lines.append(
        row(
            "peak RSS of the process tree (MB)",
            (f"{run.get('tree_rss_mb', {}).get(phase, '')}" for run, phase in columns),
        )
    )
    commits = ", ".join(
        f"{_size_label(c)} {run.get('commit', '?')} {run.get('measured_at', '?')}" for c, run in sorted(latest.items())
    )
    return "\n".join(lines) + f"\n\n(runs: {commits})\n"


def plot(results_file: Path, image: Path) -> None:
    """A stacked bar per (size, phase) of the latest full run per size in `results_file`, by stage, as a PNG
    (`--next-hour-only` records are left out: a size's bars come from one full run)."""
    import altair as alt
    import pandas as pd

    latest = latest_full_runs(results_file)
    rows = [
        {
            "run": f"{contacts:,} contacts · {phase.replace('_', ' ')}",
            "stage": stage,
            "seconds": seconds,
            "order": STAGES.index(stage),
        }
        for contacts, run in sorted(latest.items())
        for phase, stages in run["stages"].items()
        for stage, seconds in stages.items()
        if stage in STAGES and seconds > 0
    ]
    chart = (
        alt.Chart(pd.DataFrame(rows), title="make bench: wall time per stage of a refresh")
        .mark_bar()
        .encode(
            y=alt.Y("run:N", title=None, sort=[r["run"] for r in rows]),
            x=alt.X("sum(seconds):Q", title="seconds (wall time of the refresh process)"),
            color=alt.Color("stage:N", sort=list(STAGES), scale=alt.Scale(scheme="tableau20")),
            order=alt.Order("order:Q"),
            tooltip=["run", "stage", alt.Tooltip("seconds:Q", format=".1f")],
        )
        .properties(width=640, height=alt.Step(30))
    )
    image.parent.mkdir(parents=True, exist_ok=True)
    chart.save(str(image), format="png", scale_factor=2)


def main(argv: list[str] | None = None) -> int:
    """Generate (or reuse) `--contacts` contacts, refresh everything, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=None, help="world size (default 100000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--data-dir",
        default=None,
        help="the bench's data folder (default bench_data/build_<contacts>): emptied and built by a full run, "
        "only copied by --next-hour-only",
    )
    parser.add_argument(
        "--next-hour-only",
        action="store_true",
        help="time only one more hour's refresh, on a copy of the data folder a full run built",
    )
    parser.add_argument(
        "--scratch-dir", default=None, help="--next-hour-only's copy (default bench_data/next_hour_<contacts>)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="--next-hour-only: hours to time, each on a fresh copy")
    parser.add_argument("--keep", action="store_true", help="--next-hour-only: keep the scratch copy at the end")
    parser.add_argument("--generate-only", action="store_true", help="only generate (and cache) the world")
    parser.add_argument("--results", type=Path, default=RESULTS_FILE, help="JSON lines file each run appends to")
    parser.add_argument("--plot", type=Path, default=None, help="draw the results file as a PNG and exit")
    parser.add_argument(
        "--table", action="store_true", help="print the results file as docs/scaling.md's Markdown table and exit"
    )
    args = parser.parse_args(argv)

    if args.table:
        try:
            print(markdown_table(args.results), end="")
        except NoFullRunError as error:
            print(f"bench: {error}", file=sys.stderr)
            return 2
        return 0

    if args.plot:
        try:
            plot(args.results, args.plot)
        except NoFullRunError as error:
            print(f"bench: {error}", file=sys.stderr)
            return 2
        print(f"bench: plot of {args.results} written to {args.plot}")
        return 0

    if args.next_hour_only:
        if args.repeat < 1:
            parser.error("--repeat must be at least 1")
        size = args.contacts or 100_000
        base = Path(args.data_dir) if args.data_dir else PROJECT_ROOT / "bench_data" / f"build_{size}"
        world = base / "truth" / "world_state.json"
        if args.contacts is None and world.exists():  # only --data-dir given: the scratch is named by its size
            size = json.loads(world.read_text()).get("contacts", size)
        scratch = Path(args.scratch_dir) if args.scratch_dir else PROJECT_ROOT / "bench_data" / f"next_hour_{size}"
        return run_next_hour_only(base, scratch, args.contacts, args.repeat, args.keep, args.results)

    args.contacts = args.contacts or 100_000
    data_dir = Path(args.data_dir) if args.data_dir else PROJECT_ROOT / "bench_data" / f"build_{args.contacts}"
    env = _phase_env(data_dir)

    def generate(folder: Path) -> dict:
        phase = _run_phase(
            ["generate", "--contacts", str(args.contacts), "--seed", str(args.seed)],
            {**env, "ACTIONHOUSE_DATA_DIR": str(folder)},
        )
        return {"peak_rss_mb": round(phase.peak_rss_mb)}

    world, record = cached_world(args.contacts, args.seed, generate)
    generate_seconds = record["generate_seconds"]
    if record["generated_now"]:
        print(f"bench: generation of {args.contacts:,} contacts took {generate_seconds:.1f} s, cached in {world}")
    else:
        print(
            f"bench: reused the world generated in {generate_seconds:.1f} s on {record['generated_at']} ({world}); "
            "generate_seconds is that generation's time"
        )
    figures = f"bench contacts={args.contacts} generate_seconds={generate_seconds:.1f}"
    peak_mb = float(record.get("peak_rss_mb", 0))  # the generation's (also when cached)
    if args.generate_only:
        print(f"{figures} peak_rss_mb={peak_mb:.0f}")
        return 0

    shutil.rmtree(data_dir, ignore_errors=True)
    placing = time.perf_counter()
    place_world(world, data_dir)
    print(f"bench: world placed in {data_dir} in {time.perf_counter() - placing:.1f} s")
    dagster_home = data_dir / "dagster_home"
    build = _run_phase(["refresh"], env)
    build.stages = refresh_stages(build, dagster_home)
    print(f"bench: full build took {build.seconds:.1f} s", flush=True)
    print(stages_line("full_build", build))
    print(memory_line("full_build", build))
    print(cpu_line("full_build", build))
    print("\n".join(slowest_lines(build)), flush=True)
    hours = {}
    for name, said in (("next_hour", "next hour"), ("second_hour", "second hour")):
        _run_phase(["generate", "--hours", "1"], env)
        waited = wait_for_landing_to_settle(data_dir / "landing")
        print(f"bench: waited {waited:.1f} s for the hour's landing files to settle (not timed)", flush=True)
        phase = hours[name] = _run_phase(["refresh"], env)
        phase.stages = refresh_stages(phase, dagster_home)
        print(f"bench: the {said}'s refresh took {phase.seconds:.1f} s")
        print(stages_line(name, phase))
        print(memory_line(name, phase))
        print(cpu_line(name, phase))
        print("\n".join(slowest_lines(phase)), flush=True)
    hour, second = hours["next_hour"], hours["second_hour"]
    fixed_cost = fixed_cost_seconds(hour)
    peak_mb = max(peak_mb, build.peak_rss_mb, hour.peak_rss_mb, second.peak_rss_mb)
    figures += (
        f" full_build_seconds={build.seconds:.1f} next_hour_seconds={hour.seconds:.1f}"
        f" second_hour_seconds={second.seconds:.1f} fixed_cost_seconds={fixed_cost:.1f} peak_rss_mb={peak_mb:.0f}"
    )
    print(figures, flush=True)
    phases = {"full_build": build, **hours}
    run = {
        "kind": FULL_RUN,
        "contacts": args.contacts,
        "seed": args.seed,
        "commit": _commit(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "generate_seconds": generate_seconds,
        "full_build_seconds": round(build.seconds, 1),
        "next_hour_seconds": round(hour.seconds, 1),
        "second_hour_seconds": round(second.seconds, 1),
        "fixed_cost_seconds": round(fixed_cost, 1),
        "peak_rss_mb": round(peak_mb),
        "peak_rss_mb_by_phase": {name: round(phase.peak_rss_mb) for name, phase in phases.items()},
        "tree_rss_mb": {name: round(phase.tree_rss_mb) for name, phase in phases.items()},
        "stage_peak_mb": {
            name: {k: round(v) for k, v in phase.stage_peak_mb.items()} for name, phase in phases.items()
        },
        "top_dbt_node_peak_mb": {
            name: dict(sorted(((k, round(v)) for k, v in phase.node_peak_mb.items()), key=lambda kv: -kv[1])[:10])
            for name, phase in phases.items()
        },
        "stages": {name: {k: round(v, 2) for k, v in phase.stages.items()} for name, phase in phases.items()},
        "cpu_seconds": {name: round(phase.cpu_seconds, 1) for name, phase in phases.items()},
        "group_cpu_seconds": {name: _group_cpu(phase) for name, phase in phases.items()},
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with args.results.open("a") as results:
        results.write(json.dumps(run) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
