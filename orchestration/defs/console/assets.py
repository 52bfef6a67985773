"""The console's publication in Dagster: the last step of each refresh copies what the console reads out of the
warehouse into a separate DuckDB file, swapped in atomically (`console.publish`), so the console never opens the
live warehouse. It runs only when everything it reads was built: a failed gate upstream skips it and the console
keeps showing the previous publication (with its time).

The publication reads only the warehouse, as the planner does, so it is written while the planner plans
(`prepare_publication_meanwhile`, called by the planner's step): DuckDB's statements run on the core the planner's
Python leaves idle (at 1M contacts the two steps took ~20 s one after the other; docs/scaling.md). Its own step
still decides: it swaps the prepared file in, so the console changes only when that step runs (after the planner
and the queue's checks, never when an upstream gate failed), and a warehouse written to after the preparation began
is published again by that step."""

import atexit
import os
import threading
from concurrent.futures import Future
from pathlib import Path

import dagster as dg

from console.publish import PreparedPublication, discard, prepare, publish, swap
from console.settings import publication_path
from orchestration.defs.actions.assets import PROPOSALS_KEY
from orchestration.defs.ml.assets import models_dir
from orchestration.resources import WarehouseResource, read_meanwhile
from orchestration.settings import WAREHOUSE_POOL, resolve_paths

PUBLICATION_KEY = dg.AssetKey(["console", "publication"])
PUBLICATION_INPUTS = [
    PROPOSALS_KEY,
    dg.AssetKey(["ml", "lead_scores"]),
    dg.AssetKey(["ml", "score_log"]),
    dg.AssetKey(["ml", "reply_classifications"]),
    *(
        dg.AssetKey(["marts", name])
        for name in ("dim_contacts", "contact_crosswalk", "merge_proposals", "enrichment_review", "fct_pipeline_deals")
    ),
    # The outcome marts (issue 15): lift vs holdout and the weekly done metrics of the workflows page.
    *(dg.AssetKey(["marts", name]) for name in ("fct_workflow_lift", "fct_workflow_outcomes")),
]


@dg.asset(
    key=PUBLICATION_KEY,
    deps=PUBLICATION_INPUTS,
    group_name="console",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    owners=["team:revops"],
    description="The tables the RevOps console reads (scores, score history, golden records and their sources, "
    "quality results, quarantine, merge and enrichment reviews, deals, lift vs holdout and weekly outcomes, drift, "
    "model metrics), copied into data/console/publication.duckdb under a temporary name (a copy of the previous "
    "publication with its large contact-keyed tables updated by key, or a new file every "
    "ACTIONHOUSE_CONSOLE_REBUILD_EVERY-th time) and renamed over the previous publication.",
)
def publication(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Publish this refresh's tables for the console (swap in the one prepared while the planner ran, if valid)."""
    target = publication_path(resolve_paths().data_dir)
    prepared = _take_prepared(context, warehouse, target)
    if prepared is not None:
        report = swap(prepared)
    else:
        with warehouse.connect(read_only=True) as con:
            report = publish(con, target, run_id=context.run.run_id, models_dir=models_dir())
    for name, lacking in report.missing.items():
        context.log.warning(f"console table {name} not published: {', '.join(lacking)} not built yet")
    how = "from scratch" if report.from_scratch else "updated in a copy of the previous one"
    if prepared is not None:
        how += ", prepared while the planner ran"
    updated = ", ".join(f"{name} {n} keys" for name, n in {**report.updated, **report.rescored}.items())
    context.log.info(
        f"console publication ({how}{': ' + updated if updated else ''}) swapped in at {target} "
        f"in {report.seconds:.1f} s"
    )
    return dg.MaterializeResult(
        metadata={
            "path": str(target),
            "seconds": round(report.seconds, 2),
            "from_scratch": report.from_scratch,
            "prepared_while_planning": prepared is not None,
            **{f"updated_keys_{name}": n for name, n in {**report.updated, **report.rescored}.items()},
            **{f"rows_{name}": n for name, n in report.rows.items()},
        }
    )


# Publications being prepared while the planner's step runs, by run id, with the state of the warehouse's files
# when the preparation began. Taken by the publication's step of the same run; any left (the planner failed, so the
# publication's step did not run) are deleted when the next one is prepared or when the process exits.
_prepared_lock = threading.Lock()
_prepared: dict[str, Future[tuple[PreparedPublication, tuple]]] = {}


def prepare_publication_meanwhile(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> bool:
    """Start preparing this run's publication on a thread, if this run will run the publication's step; returns
    whether it did. For the planner's step, which only reads the warehouse too."""
    if not _publication_step_runs_later(context):
        return False
    run_id = context.run.run_id
    target = publication_path(resolve_paths().data_dir)
    state = _warehouse_files_state(warehouse.database_path)

    def work() -> tuple[PreparedPublication, tuple]:
        with warehouse.connect(read_only=True) as con:
            return prepare(con, target, run_id=run_id, models_dir=models_dir()), state

    with _prepared_lock:
        for other in [key for key, future in _prepared.items() if key != run_id and future.done()]:
            _discard_unclaimed(_prepared.pop(other))
        if run_id in _prepared:
            return False
        _prepared[run_id] = read_meanwhile(work, "publication")
    return True


def _warehouse_files_state(database_path: str) -> tuple:
    """What any write to the warehouse changes: its file's and its write-ahead log's identity, size and time (a
    read-only connection changes neither)."""
    state = []
    for path in (Path(database_path), Path(f"{database_path}.wal")):
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            state.append(None)
        else:
            state.append((stat.st_ino, stat.st_size, stat.st_mtime_ns))
    return tuple(state)


def _publication_step_runs_later(context: dg.AssetExecutionContext) -> bool:
    """Whether this run selected the publication and will execute its step (a re-execution may run some steps)."""
    if PUBLICATION_KEY not in context.job_def.asset_layer.selected_asset_keys:
        return False
    steps = context.run.step_keys_to_execute
    return steps is None or publication.node_def.name in steps


def _take_prepared(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, target: Path
) -> PreparedPublication | None:
    """This run's publication prepared meanwhile, once ready, if it can be swapped in: it did not fail, and the
    warehouse was not written to since it began (else it is deleted and the caller publishes again)."""
    with _prepared_lock:
        future = _prepared.pop(context.run.run_id, None)
    if future is None:
        return None
    if not future.done():
        context.log.info("waiting for the console publication prepared while the planner ran")
    try:
        prepared, state = future.result()
    except Exception as exc:  # prepared again below, in this step, where a failure fails the step
        context.log.warning(f"the console publication prepared while the planner ran failed ({exc}); publishing again")
        return None
    if prepared.target != target or state != _warehouse_files_state(warehouse.database_path):
        discard(prepared)
        context.log.info("the warehouse was written to after the console publication was prepared; publishing again")
        return None
    return prepared


def _discard_unclaimed(future: Future) -> None:
    """Delete a prepared publication no publication step took (waits for it to end)."""
    try:
        prepared, _ = future.result()
    except Exception:
        return  # it failed: it left nothing behind
    discard(prepared)


@atexit.register
def _discard_all_unclaimed() -> None:
    # Runs after the interpreter has waited for the preparing threads (concurrent.futures joins them first).
    with _prepared_lock:
        left = list(_prepared.values())
        _prepared.clear()
    for future in left:
        _discard_unclaimed(future)
