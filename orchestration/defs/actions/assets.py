"""The planner in Dagster: candidates (dbt marts/actions) + scores + reply classes -> the decision queue.

All logic lives in `actions/`; this module wires it to the warehouse and the operational store, reports counts,
and runs the queue's safety promises as blocking checks (a failure stops the CRM syncs downstream).
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import dagster as dg

from actions.checks import queue_safety
from actions.inputs import PlanningInputs, load_inputs
from actions.planner import StoreView, apply_plan, cyclic_gc_paused, plan
from actions.policy import load_policy
from actions.queue import DecisionQueue
from actions.snapshots import keep_meanwhile, snapshot_root
from ops_store.schema import utc_now
from orchestration.resources import OpsStoreResource, WarehouseResource
from orchestration.settings import WAREHOUSE_POOL, resolve_paths

PROPOSALS_KEY = dg.AssetKey(["actions", "proposals"])
PLANNER_INPUTS = [
    *(
        dg.AssetKey(["marts", name])
        for name in (
            "fct_action_contacts",
            "fct_suppression_signals",
            "fct_follow_up_triggers",
            "fct_inbound_leads",
            "fct_owner_load",
            "merge_proposals",
            "enrichment_review",
            "fct_account_risk",
            "fct_meeting_follow_ups",
            "fct_stage_evidence",
            "fct_pipeline_deals",
            "fct_no_shows",
            "fct_meeting_requests",
            "fct_owner_calendar",
            "fct_sequence_candidates",
            "fct_multithread_candidates",
        )
    ),
    dg.AssetKey(["ml", "lead_scores"]),
    dg.AssetKey(["ml", "reply_classifications"]),
]


@dg.asset(
    key=PROPOSALS_KEY,
    deps=PLANNER_INPUTS,
    group_name="actions",
    pool=WAREHOUSE_POOL,
    kinds={"python", "sqlite"},
    owners=["team:revops"],
    description="The planner: suppression, reply routing, lead routing, follow-up SLAs, merge and enrichment "
    "reviews, at-risk account saves, CRM hygiene, no-show recovery, meeting proposals, sequence selection and "
    "multi-threading, as typed actions classed by the policy (auto / approve / never) and written to the decision "
    "queue in the operational store; proposals whose evidence changed are withdrawn, stale ones expire.",
)
def proposals(context: dg.AssetExecutionContext, warehouse: WarehouseResource, ops_store: OpsStoreResource):
    """Plan this refresh's actions and write them to the queue (planning never waits on people)."""
    # Python's cycle collector paused for the whole step, and the step's objects (the store's ~110,000 open actions,
    # the plan's blocked items and stubs at 1M contacts) let go before it runs again: otherwise it scans them while
    # they are alive, several times over (collections during the store read, one when planning ends, later ones of
    # the oldest generation), ~1.5 s of CPU in a 1M-contact hour, for no garbage (see `cyclic_gc_paused`).
    with cyclic_gc_paused():
        metadata = _plan_and_write(context, warehouse, ops_store)
    return dg.MaterializeResult(metadata=metadata)


def _plan_and_write(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, ops_store: OpsStoreResource
) -> dict:
    """`proposals`' work; returns the materialization's metadata (nothing else outlives it)."""
    policy = load_policy()
    engine = ops_store.engine()
    now = utc_now()
    queue = DecisionQueue(engine, policy)
    # The warehouse's inputs are read on a thread while the store is read here: neither needs the other, DuckDB and
    # Arrow read without the GIL, and the store read is mostly Python (at 1M contacts ~2 s each, one after the other).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="planner-inputs") as pool:
        reading = pool.submit(_read_inputs, warehouse, now)
        expired = queue.expire_due()
        store = StoreView.read(engine, policy, now)
        inputs = reading.result()
    # The point-in-time inputs a policy backtest replays, written while planning goes on (nothing is written to the
    # queue before they are); never a reason to stop planning.
    kept = keep_meanwhile(snapshot_root(resolve_paths().data_dir), context.run.run_id, inputs, now)
    result = plan(inputs, policy, store, now=now, run_id=context.run.run_id)
    try:
        kept.result()
    except OSError as exc:
        context.log.warning(f"planner inputs not kept for backtests: {exc.strerror or exc}")
    written = apply_plan(result, engine, policy)
    for workflow, why in result.skipped.items():
        context.log.warning(f"{workflow} not planned this run: {why}")
    summary = result.summary()
    counts = queue.counts()
    metadata = {
        "policy_version": policy.version,
        "as_of": summary["as_of"],
        "actions_added": written["actions_added"],
        "withdrawn": written["withdrawn"],
        "expired": expired,
        "suppression_entries_added": written["suppression_entries_added"],
        "planner_seconds": summary["seconds"],
        **{f"held_out_{k}": v for k, v in sorted(summary["held_out_by_workflow"].items())},
        **{f"new_{k}": v for k, v in sorted(summary["new_by_workflow"].items())},
        **{f"new_{k}": v for k, v in sorted(summary["new_by_risk_class"].items())},
        **{f"blocked_{k.replace('.', '_')}": v for k, v in sorted(summary["blocked_by_rule"].items())},
        **{f"deferred_{k}": v for k, v in sorted(summary["deferred_by_daily_cap"].items())},
        "queue": dg.MetadataValue.md(
            "| workflow | risk class | state | actions |\n|---|---|---|---|\n"
            + "\n".join(f"| {c['workflow']} | {c['risk_class']} | {c['state']} | {c['actions']} |" for c in counts)
        ),
    }
    engine.dispose()
    return metadata


def _read_inputs(warehouse: WarehouseResource, now: datetime) -> PlanningInputs:
    """The planner's inputs from the warehouse (read-only)."""
    with warehouse.connect(read_only=True) as con:
        return load_inputs(con, now=now)


_CHECKS = {
    "no_suppressed_targets": ("suppressed_targets", "No live action reaches a contact on the suppression list."),
    "caps_respected": ("cap_violations", "No account gets more customer-facing actions a week than the policy allows."),
    "actions_explained": (
        "unexplained",
        "Every action of this run has reasons, evidence rows, policy verdicts, the policy version and a KPI.",
    ),
    "customer_facing_approved": (
        "customer_facing_auto",
        "Every customer-facing action waits for a person's approval (unless the policy names it otherwise).",
    ),
}


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(name=name, asset=PROPOSALS_KEY, blocking=True, description=description)
        for name, (_, description) in _CHECKS.items()
    ],
)
def queue_promises(context: dg.AssetCheckExecutionContext, ops_store: OpsStoreResource):
    """The decision queue's safety promises, checked after every planning run."""
    # The collector paused while the whole suppression list and the live actions are read (none of it is garbage
    # until the checks end).
    with ops_store.engine_for_step() as engine, cyclic_gc_paused():
        report = queue_safety(engine, load_policy(), run_id=context.run.run_id)
    for name, (attribute, _) in _CHECKS.items():
        offending = getattr(report, attribute)
        yield dg.AssetCheckResult(
            check_name=name,
            asset_key=PROPOSALS_KEY,
            passed=not offending,
            severity=dg.AssetCheckSeverity.ERROR,
            # Action ids and account ids only: no contact data in run metadata.
            metadata={"offending": len(offending), "examples": ", ".join(offending[:10])},
        )
