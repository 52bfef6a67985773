"""Reverse ETL in Dagster: scores and approved actions to the CRM, and the sync log back to the warehouse.

- `reverse_etl/hubspot_field_sync` (downstream of the published scores): changed score fields to contact records;
- `reverse_etl/hubspot_action_sync` (downstream of the decision queue): approved actions, through the outbox;
- `reverse_etl/sync_log`: every attempt, with its action's lineage, appended to `reverse_etl.sync_log`;
- the `approved_actions` sensor runs the action sync within a minute of new approvals (no warehouse writes).

They exist only when a CRM is configured (`ACTIONHOUSE_CRM_BASE_URL`). All logic is in `reverse_etl/sync/`.
"""

import time

import dagster as dg
import duckdb
import httpx
import sqlalchemy as sa

from actions.policy import load_policy
from actions.states import State
from ops_store.schema import actions
from orchestration.defs.crm.resources import CrmResource, crm_configured, crm_problem
from orchestration.resources import OpsStoreResource, WarehouseResource
from orchestration.settings import WAREHOUSE_POOL, WAREHOUSE_RUN_TAG
from reverse_etl.crm.base import CrmError
from reverse_etl.sync import LeaseHeld, SyncEngine, SyncReport
from reverse_etl.sync.audit import sent_without_approval
from reverse_etl.sync.fields import desired_company_fields, desired_contact_fields
from reverse_etl.sync.publish import WAREHOUSE_TABLE, publish_sync_log
from reverse_etl.sync.writers import HubSpotWriter

GROUP = "reverse_etl"
FIELD_SYNC_KEY = dg.AssetKey([GROUP, "hubspot_field_sync"])
ACTION_SYNC_KEY = dg.AssetKey([GROUP, "hubspot_action_sync"])
SYNC_LOG_KEY = dg.AssetKey([GROUP, "sync_log"])
ACTION_SYNC_JOB_NAME = "sync_approved_actions"
CRM_READ_BACK_JOB_NAME = "crm_read_back"
# How long a sync waits for another one on the same CRM connection (the hourly one, a sensor's, a person's).
LEASE_WAIT_SECONDS = 600


def _run_sync(context, crm: CrmResource, ops_store: OpsStoreResource, **kwargs) -> tuple[SyncReport, SyncEngine]:
    """One engine run, waiting (with a log line) while another sync holds this connection's lease."""
    engine = ops_store.engine()
    deadline = time.monotonic() + LEASE_WAIT_SECONDS
    try:
        with crm.client() as client:
            sync = SyncEngine(engine, HubSpotWriter(client, crm.connection_name), load_policy())
            while True:
                try:
                    report = sync.run(**kwargs)
                    break
                except LeaseHeld as held:
                    if time.monotonic() > deadline:
                        raise dg.Failure(f"Gave up waiting {LEASE_WAIT_SECONDS} s for another sync: {held}.") from held
                    context.log.info(f"Waiting for another sync to finish ({held}).")
                    time.sleep(5)
    except (CrmError, httpx.HTTPError) as exc:
        # An outage or a refused token: said with the URL and the variable to fix, not as a traceback.
        raise dg.Failure(
            f"The sync could not finish: {crm_problem(exc, crm.base_url)}. What was not sent stays in the "
            "outbox (approved actions) or is found again by the next field diff (scores); the next sync sends it."
        ) from exc
    finally:
        engine.dispose()
    return report, sync


def _metadata(report: SyncReport) -> dict:
    summary = report.summary()
    metadata = {k: v for k, v in summary.items() if not isinstance(v, dict)}
    metadata.update({f"sent_{k}": v for k, v in sorted(summary["sent_by_kind"].items())})
    if report.blocked:
        metadata["blocked_reasons"] = dg.MetadataValue.md(
            "| stopped at send time because | actions |\n|---|---|\n"
            + "\n".join(f"| {why} | {n} |" for why, n in report.blocked.most_common())
        )
    return metadata


@dg.asset(
    key=FIELD_SYNC_KEY,
    deps=[
        dg.AssetKey(["ml", "lead_scores"]),
        dg.AssetKey(["marts", "contact_crosswalk"]),
        dg.AssetKey(["marts", "fct_account_risk"]),
    ],
    group_name=GROUP,
    pool=WAREHOUSE_POOL,
    kinds={"hubspot"},
    owners=["team:data-engineering"],
    description="Each golden contact's fit, intent and combined score, tier, top reason and model version written "
    "to its CRM record (`actionhouse_*` properties, created if missing) — only records whose values changed since "
    "the CRM last confirmed them; a value a person changed in the CRM is kept unless the policy owns that field. "
    "Each customer account's risk verdict (verdict, tier, triggering signals, as-of day) goes to its CRM company "
    "record the same way.",
)
def hubspot_field_sync(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, crm: CrmResource, ops_store: OpsStoreResource
):
    """Send the changed score fields."""
    with warehouse.connect(read_only=True) as con:
        desired = desired_contact_fields(con)
        try:
            companies = desired_company_fields(con)
        except duckdb.CatalogException:
            context.log.info("No account risk verdicts yet: no company fields this time.")
            companies = None
    context.log.info(f"{desired.height:,} scored contacts with a CRM record; sending those that changed")
    report, _ = _run_sync(
        context, crm, ops_store, desired_fields=desired, send_actions=False, desired_company_fields=companies
    )
    context.log.info(
        f"fields: {report.fields_sent:,} records updated, {report.fields_unchanged:,} unchanged, "
        f"{report.fields_kept_for_a_person:,} values a person set kept, {report.fields_failed:,} failed"
    )
    return dg.MaterializeResult(metadata=_metadata(report))


@dg.asset(
    key=ACTION_SYNC_KEY,
    deps=[dg.AssetKey(["actions", "proposals"])],
    group_name=GROUP,
    kinds={"hubspot"},
    owners=["team:revops"],
    description="Approved actions from the decision queue to the CRM through the outbox: owner changes, tasks, "
    "notes, unsubscribes, merges, deal changes, sequence enrollments and approved one-to-one emails (as owner email "
    "tasks). Each is checked again at send time (suppression, kill switch, caps, expiry, the approved payload) and "
    "sent once; every attempt is logged.",
    check_specs=[
        dg.AssetCheckSpec(
            "sent_only_approved",
            asset=ACTION_SYNC_KEY,
            blocking=True,
            description="Every action in the CRM was approved (by a person, or by the policy for auto actions) "
            "with exactly the payload that was sent.",
        )
    ],
)
def hubspot_action_sync(context: dg.AssetExecutionContext, crm: CrmResource, ops_store: OpsStoreResource):
    """Send what the queue approved; report what was sent, retried, dead-lettered and stopped at send time."""
    report, sync = _run_sync(context, crm, ops_store, send_actions=True)
    s = report.summary()
    context.log.info(
        f"actions: {s['actions_sent']} sent {s['sent_by_kind']}, {s['retryable']} to retry, {s['dead_lettered']} "
        f"dead-lettered, {s['blocked_last_mile']} stopped at send time {s['blocked_by_reason']}"
    )
    if report.stopped_by_kill_switch:
        context.log.warning("The kill switch is on: nothing more was sent.")
    with ops_store.engine_for_step() as engine:
        offending = sent_without_approval(engine, sync.connection)
    yield dg.MaterializeResult(metadata=_metadata(report))
    yield dg.AssetCheckResult(
        check_name="sent_only_approved",
        passed=not offending,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"offending": len(offending), "examples": ", ".join(offending[:10])},
    )


@dg.asset(
    key=SYNC_LOG_KEY,
    deps=[FIELD_SYNC_KEY, ACTION_SYNC_KEY],
    group_name=GROUP,
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    owners=["team:data-engineering"],
    description=f"Every sync attempt (action id, CRM, object, record id, request kind, status, message, attempt, "
    f"time) appended to {WAREHOUSE_TABLE} with its action's lineage: evidence rows, reasons, model and policy "
    "versions, and who approved it when.",
)
def sync_log(context: dg.AssetExecutionContext, warehouse: WarehouseResource, ops_store: OpsStoreResource):
    """Publish the new sync-log rows to the warehouse."""
    with ops_store.engine_for_step() as engine, warehouse.connect() as con:
        added = publish_sync_log(engine, con, progress=context.log.info)
        by_status = dict(con.execute(f"select status, count(*) from {WAREHOUSE_TABLE} group by 1").fetchall())
    return dg.MaterializeResult(
        metadata={"rows_added": added, **{f"rows_{k}": v for k, v in sorted(by_status.items())}}
    )


def _approvals_waiting(ops_store: OpsStoreResource) -> tuple[int, str | None]:
    with ops_store.engine_for_step() as engine, engine.connect() as con:
        count, latest = con.execute(
            sa.select(sa.func.count(), sa.func.max(actions.c.decided_at)).where(actions.c.state == State.APPROVED.value)
        ).one()
    return count, latest.isoformat() if latest else None


sync_approved_actions = dg.define_asset_job(
    name=ACTION_SYNC_JOB_NAME,
    selection=dg.AssetSelection.assets(ACTION_SYNC_KEY),
    description="Send approved actions to the CRM now (reads the operational store only; no warehouse writes).",
)


@dg.sensor(
    name="approved_actions",
    job=sync_approved_actions,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts the action sync within a minute of new approvals, so people need not wait for the hour.",
)
def approved_actions(context: dg.SensorEvaluationContext, ops_store: OpsStoreResource):
    """One action sync per new set of approvals waiting to be sent."""
    count, latest = _approvals_waiting(ops_store)
    if not count:
        return dg.SkipReason("No approved actions waiting to be sent.")
    marker = f"{latest}|{count}"
    if context.cursor == marker:
        return dg.SkipReason(f"{count} approved action(s) already handed to a sync run.")
    context.update_cursor(marker)
    return dg.RunRequest(run_key=f"approvals-{marker}", tags={"actionhouse/trigger": "approved_actions"})


crm_read_back = dg.define_asset_job(
    name=CRM_READ_BACK_JOB_NAME,
    selection=dg.AssetSelection.groups("crm_api") | dg.AssetSelection.assets(SYNC_LOG_KEY),
    description="Read back what the syncs wrote (changed contacts, tasks, notes, owners, scores) and publish the "
    "sync log, without a full refresh.",
    tags={WAREHOUSE_RUN_TAG: "write"},
)


def build_sync_definitions() -> dg.Definitions:
    """The sync assets, the approvals sensor and the jobs (the `crm` resource comes with the CRM ingestion)."""
    return dg.Definitions(
        assets=[hubspot_field_sync, hubspot_action_sync, sync_log],
        jobs=[sync_approved_actions, crm_read_back],
        sensors=[approved_actions],
    )


@dg.definitions
def crm_sync() -> dg.Definitions:
    """CRM syncs when a CRM is configured (`ACTIONHOUSE_CRM_BASE_URL`); nothing otherwise."""
    return build_sync_definitions() if crm_configured() else dg.Definitions()
