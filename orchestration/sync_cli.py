"""`actionhouse sync run|status|retry`: send approved actions and changed scores to the CRM from a terminal."""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter

from landing.warehouse import connect as connect_warehouse
from orchestration.settings import CRM_BASE_URL_ENV, CRM_TOKEN_ENV, crm_rate_limit, resolve_paths


def _say(message: str) -> None:
    print(f"[actionhouse] {message}", flush=True)


def _engine():
    from ops_store import open_store, ops_db_url_from_env

    return open_store(ops_db_url_from_env(resolve_paths().data_dir))


def sync_engine_from_env(ops_engine):
    """The sync engine for the CRM in `ACTIONHOUSE_CRM_BASE_URL` (token from `ACTIONHOUSE_CRM_TOKEN`)."""
    from actions.policy import load_policy
    from reverse_etl.crm.hubspot import HubSpotClient, hubspot_connection_name
    from reverse_etl.sync import SyncEngine
    from reverse_etl.sync.writers import HubSpotWriter

    base_url = os.environ.get(CRM_BASE_URL_ENV, "").strip()
    if not base_url:
        raise SystemExit(
            f"No CRM to sync to: set {CRM_BASE_URL_ENV} (and {CRM_TOKEN_ENV}); `make demo` serves the sandbox CRM."
        )
    client = HubSpotClient(base_url, os.environ.get(CRM_TOKEN_ENV, ""), rate_limit=crm_rate_limit())
    return SyncEngine(ops_engine, HubSpotWriter(client, hubspot_connection_name(base_url)), load_policy())


def desired_fields_from_warehouse():
    """The contact scores and company risk verdicts to sync, read from the warehouse: `(contacts, companies)`,
    either None (said why) when it cannot be read now."""
    import duckdb

    from reverse_etl.sync.fields import desired_company_fields, desired_contact_fields

    warehouse = resolve_paths().warehouse
    if not warehouse.exists():
        _say(f"No warehouse at {warehouse}: only actions are synced.")
        return None, None
    try:
        con = connect_warehouse(warehouse, read_only=True, wait_seconds=10)
    except duckdb.IOException:
        _say("The warehouse is being refreshed: scores sync with the refresh; only actions are synced now.")
        return None, None
    try:
        try:
            contacts = desired_contact_fields(con)
        except duckdb.CatalogException:
            _say("No published scores yet: no score fields are synced.")
            contacts = None
        try:
            companies = desired_company_fields(con)
        except duckdb.CatalogException:
            _say("No account risk verdicts yet: no company fields are synced.")
            companies = None
        return contacts, companies
    finally:
        con.close()


def cmd_sync_run(args: argparse.Namespace) -> int:
    from reverse_etl.crm.base import CrmAuthenticationError
    from reverse_etl.sync import LeaseHeld

    engine = _engine()
    sync = sync_engine_from_env(engine)
    desired, desired_companies = (None, None) if args.no_fields else desired_fields_from_warehouse()
    try:
        report = sync.run(desired_fields=desired, dry_run=args.dry_run, desired_company_fields=desired_companies)
    except LeaseHeld as exc:
        _say(f"Not started: {exc}.")
        return 3
    except CrmAuthenticationError as exc:
        _say(f"The CRM refused the token in {CRM_TOKEN_ENV}: {exc.message}. Nothing was sent.")
        return 2
    finally:
        engine.dispose()
    if args.dry_run:
        for row in report.rows:
            print(json.dumps(row, default=str, ensure_ascii=False))
        would = Counter(r["would"] for r in report.rows)
        _say(f"Dry run: {dict(would)}; nothing was written or sent.")
        return 0
    s = report.summary()
    _say(
        f"Sync to {sync.connection}: {s['actions_sent']} actions sent {s['sent_by_kind']}, {s['retryable']} to retry, "
        f"{s['dead_lettered']} dead-lettered, {s['blocked_last_mile']} stopped at send time {s['blocked_by_reason']}; "
        f"fields: {s['fields_sent']} records updated, {s['fields_unchanged']} unchanged, "
        f"{s['fields_kept_for_a_person']} values a person set kept ({s['seconds']} s)."
    )
    if report.stopped_by_kill_switch:
        _say("The kill switch is on: nothing more was sent (`actionhouse kill-switch status`).")
    return 0


def cmd_sync_status(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from actions.states import State
    from ops_store.schema import actions, sync_leases, sync_log, sync_outbox, utc_now

    engine = _engine()
    with engine.connect() as con:
        outbox = con.execute(
            sa.select(sync_outbox.c.connection, sync_outbox.c.state, sa.func.count()).group_by(
                sync_outbox.c.connection, sync_outbox.c.state
            )
        ).all()
        # From the queue: actions that could not even become a request are dead letters without an outbox row.
        dead = con.execute(
            sa.select(actions.c.action_id, actions.c.action_type, actions.c.state_reason)
            .where(actions.c.state == State.DEAD_LETTERED.value)
            .order_by(actions.c.updated_at.desc())
            .limit(args.limit)
        ).all()
        runs = con.execute(
            sa.select(sync_log.c.run_id, sa.func.min(sync_log.c.at), sync_log.c.status, sa.func.count())
            .group_by(sync_log.c.run_id, sync_log.c.status)
            .order_by(sa.func.min(sync_log.c.at).desc())
            .limit(15)
        ).all()
        leases = con.execute(sa.select(sync_leases)).mappings().all()
    engine.dispose()
    if not outbox and not runs:
        _say("Nothing has been synced yet.")
        return 0
    print("outbox:")
    for connection, state, n in outbox:
        print(f"  {connection:<32}{state:<15}{n:>8,}")
    print("recent runs (rows per status):")
    for run_id, at, status, n in runs:
        print(f"  {at:%Y-%m-%d %H:%M:%S} UTC  run {run_id[:12]}  {status:<14}{n:>8,}")
    now = utc_now()
    for lease in leases:
        where, who = lease["connection"], lease["holder"]
        if lease["expires_at"] > now:
            print(f"sync running on {where}: {who} (lease until {lease['expires_at']:%H:%M:%S} UTC)")
        else:
            print(f"no sync running on {where} (last one: {who}, started {lease['acquired_at']:%Y-%m-%d %H:%M} UTC)")
    if dead:
        print(f"dead letters (latest {len(dead)}; `actionhouse sync retry --dead-lettered` sends them again):")
        for action_id, kind, message in dead:
            print(f"  {action_id[:12]}  {kind:<16}{(message or '')[:100]}")
    return 0


def cmd_sync_retry(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from actions.policy import load_policy
    from actions.queue import DecisionQueue
    from actions.states import State
    from ops_store.schema import actions, sync_outbox, utc_now

    if not args.dead_lettered:
        _say("Say what to retry: --dead-lettered.")
        return 2
    engine = _engine()
    with engine.begin() as con:
        ids = (
            con.execute(sa.select(actions.c.action_id).where(actions.c.state == State.DEAD_LETTERED.value))
            .scalars()
            .all()
        )
        con.execute(
            sa.update(sync_outbox)
            .where(sync_outbox.c.state == "dead_lettered")
            .values(state="queued", attempts=0, next_attempt_at=utc_now(), last_message="retry asked by a person")
        )
    refused = DecisionQueue(engine, load_policy()).transition_many(
        [(i, State.QUEUED, "sent again: a person asked to retry", None) for i in ids], actor=args.actor
    )
    engine.dispose()
    _say(f"{len(ids) - len(refused)} dead-lettered action(s) queued again; the next sync sends them.")
    return 0


def add_sync_commands(subparsers) -> None:
    """Register `sync run|status|retry`."""
    sync = subparsers.add_parser("sync", help="send approved actions and changed scores to the CRM")
    ss = sync.add_subparsers(dest="sync_command", required=True)
    run = ss.add_parser("run", help="one sync now (what the hourly refresh and the approvals sensor run)")
    run.add_argument("--dry-run", action="store_true", help="show what would be sent, per row; send and write nothing")
    run.add_argument("--no-fields", action="store_true", help="actions only (no score fields)")
    run.set_defaults(func=cmd_sync_run)
    status = ss.add_parser("status", help="outbox by state, recent runs, dead letters, who holds the lease")
    status.add_argument("--limit", type=int, default=20)
    status.set_defaults(func=cmd_sync_status)
    retry = ss.add_parser("retry", help="send dead-lettered actions again (after fixing their cause)")
    retry.add_argument("--dead-lettered", action="store_true", required=True)
    retry.add_argument("--as", dest="actor", default="cli")
    retry.set_defaults(func=cmd_sync_retry)
