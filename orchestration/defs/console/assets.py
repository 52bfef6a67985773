"""The console's publication in Dagster: the last step of each refresh copies what the console reads out of the
warehouse into a separate DuckDB file, swapped in atomically (`console.publish`), so the console never opens the
live warehouse. It runs only when everything it reads was built: a failed gate upstream skips it and the console
keeps showing the previous publication (with its time)."""

import dagster as dg

from console.publish import publish
from console.settings import publication_path
from orchestration.defs.actions.assets import PROPOSALS_KEY
from orchestration.defs.ml.assets import models_dir
from orchestration.resources import WarehouseResource
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
    """Publish this refresh's tables for the console."""
    target = publication_path(resolve_paths().data_dir)
    with warehouse.connect(read_only=True) as con:
        report = publish(con, target, run_id=context.run.run_id, models_dir=models_dir())
    for name, lacking in report.missing.items():
        context.log.warning(f"console table {name} not published: {', '.join(lacking)} not built yet")
    how = "from scratch" if report.from_scratch else "updated in a copy of the previous one"
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
            **{f"updated_keys_{name}": n for name, n in {**report.updated, **report.rescored}.items()},
            **{f"rows_{name}": n for name, n in report.rows.items()},
        }
    )
