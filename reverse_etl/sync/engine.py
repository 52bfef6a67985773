"""The sync engine: outbox, last-mile checks, batches, per-row outcomes, retries, dead letters, field syncs.

A run, under the connection's lease:
1. in-flight rows a crashed run left behind become retryable (their CRM writes are idempotent);
2. approved actions that may run now (`DecisionQueue.executable`) enter the outbox and become `queued`;
3. due outbox rows go out by kind in batches; before each batch the kill switch is read (on: the run stops and
   nothing more is sent), the lease renewed, and each row checked against the store as it is now — the contact
   not suppressed since approval, the action not expired, the payload still the approved one, the weekly cap of
   customer-facing touches — a row that fails is withdrawn with the reason and never sent;
4. rows are marked in flight, sent, and their outcomes committed once the CRM has answered: sent, retryable
   (again next run, with backoff, up to `sync.max_attempts`) or dead-lettered with the CRM's message;
5. field syncs: scores whose values changed since the CRM last confirmed them.
Every attempt is a row in `sync_log`.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa

from actions.catalog import ACTION_TYPES
from actions.kill_switch import KillSwitch
from actions.model import payload_hash
from actions.policy import Policy
from actions.queue import DecisionQueue, StoredAction
from actions.states import State
from actions.suppression import SuppressionList
from ops_store.schema import actions, sync_log, sync_outbox, utc_now
from reverse_etl.crm.base import CrmAuthenticationError, CrmError, OutcomeStatus, RowOutcome
from reverse_etl.sync import fields as F
from reverse_etl.sync.lease import Lease
from reverse_etl.sync.requests import KINDS, CrmRequest, Unsendable, build_request
from reverse_etl.sync.writers import CrmWriter

SYNC_ACTOR = "sync"
_IN = 500


@dataclass
class SyncReport:
    """What a run did (or, in a dry run, would do)."""

    run_id: str
    connection: str
    dry_run: bool = False
    enqueued: int = 0
    sent: Counter = field(default_factory=Counter)
    retryable: int = 0
    dead_lettered: int = 0
    blocked: Counter = field(default_factory=Counter)
    stopped_by_kill_switch: bool = False
    fields_sent: int = 0
    fields_sent_by_object: Counter = field(default_factory=Counter)
    fields_unchanged: int = 0
    fields_kept_for_a_person: int = 0
    fields_failed: int = 0
    seconds: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def actions_sent(self) -> int:
        return sum(self.sent.values())

    def summary(self) -> dict[str, Any]:
        """Counts for metadata and the command line."""
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "enqueued": self.enqueued,
            "actions_sent": self.actions_sent,
            "sent_by_kind": dict(self.sent),
            "retryable": self.retryable,
            "dead_lettered": self.dead_lettered,
            "blocked_last_mile": sum(self.blocked.values()),
            "blocked_by_reason": dict(self.blocked),
            "stopped_by_kill_switch": self.stopped_by_kill_switch,
            "fields_sent": self.fields_sent,
            "fields_sent_by_object": dict(self.fields_sent_by_object),
            "fields_unchanged": self.fields_unchanged,
            "fields_kept_for_a_person": self.fields_kept_for_a_person,
            "fields_failed": self.fields_failed,
            "seconds": round(self.seconds, 2),
            "rows_per_second": round((self.actions_sent + self.fields_sent) / self.seconds, 1) if self.seconds else 0.0,
        }


class SyncEngine:
    """Approved actions and changed fields to one CRM connection (`writer.connection`)."""

    def __init__(
        self,
        engine: sa.Engine,
        writer: CrmWriter,
        policy: Policy,
        clock: Callable[[], datetime] = utc_now,
        lease_seconds: float = 300.0,
    ) -> None:
        self.engine = engine
        self.writer = writer
        self.policy = policy
        self.clock = clock
        self.queue = DecisionQueue(engine, policy, clock=clock)
        self.kill_switch = KillSwitch(engine, policy.kill_switch.default)
        self.lease_seconds = lease_seconds
        self.connection = writer.connection

    # ---- the run ----------------------------------------------------------------------------------
    def run(
        self,
        desired_fields: pl.DataFrame | None = None,
        dry_run: bool = False,
        send_actions: bool = True,
        desired_company_fields: pl.DataFrame | None = None,
    ) -> SyncReport:
        """One sync: approved actions (unless `send_actions` is False), then contact fields when `desired_fields`
        is given and company fields when `desired_company_fields` is (`record_id` + one column per synced
        property)."""
        desired_by_object = {
            object_type: frame
            for object_type, frame in (("contacts", desired_fields), ("companies", desired_company_fields))
            if frame is not None
        }
        started = time.perf_counter()
        report = SyncReport(uuid.uuid4().hex, self.connection, dry_run=dry_run)
        if dry_run:
            self.writer.prepare()
            self._dry_run(report, desired_by_object, send_actions)
            report.seconds = time.perf_counter() - started
            return report
        with Lease(self.engine, self.connection, self.lease_seconds) as lease:
            self.writer.prepare()
            if send_actions:
                self._recover_in_flight()
                self._enqueue(report)
                self._send_due(report, lease)
            for object_type, desired in desired_by_object.items():
                if not report.stopped_by_kill_switch:
                    self._sync_fields(report, desired, lease, object_type)
        report.seconds = time.perf_counter() - started
        return report

    # ---- outbox ------------------------------------------------------------------------------------
    def _recover_in_flight(self) -> None:
        """Rows a killed run had in flight: the CRM may or may not have them; resending is idempotent."""
        with self.engine.begin() as con:
            con.execute(
                sa.update(sync_outbox)
                .where(sync_outbox.c.connection == self.connection, sync_outbox.c.state == "in_flight")
                .values(
                    state="retryable",
                    next_attempt_at=self.clock(),
                    updated_at=self.clock(),
                    last_message="resent after an interrupted sync (idempotent)",
                )
            )

    def _enqueue(self, report: SyncReport) -> None:
        """Approved actions that may run now -> outbox rows (`queued`); unsendable ones are dead-lettered.

        Also picked up: queued actions without an outbox row — dead letters a person sent again whose request could
        not be built before (e.g. a field no CRM property took, until the mapping gained one)."""
        suppression = SuppressionList(self.engine).snapshot()
        ready = self.queue.executable(kill_switch_on=False, suppression=suppression)
        self._withdraw_suppressed(report, suppression, {a.action_id for a in ready})
        orphans = self._queued_without_outbox()
        if not ready and not orphans:
            return
        now = self.clock()
        with self.engine.connect() as con:
            existing = set()
            ids = [a.action_id for a in ready]
            for start in range(0, len(ids), _IN):
                existing.update(
                    con.execute(
                        sa.select(sync_outbox.c.outbox_id).where(sync_outbox.c.outbox_id.in_(ids[start : start + _IN]))
                    ).scalars()
                )
        rows, unsendable = [], []
        for action in [*ready, *orphans]:
            try:
                request = build_request(action, self.policy.routing.nurture_owner)
            except Unsendable as why:
                unsendable.append((action, str(why)))
                continue
            if action.action_id in existing:
                continue  # enqueued by a run that stopped before moving the action to queued
            rows.append(self._outbox_row(action, request, now))
        if rows:
            with self.engine.begin() as con:
                con.execute(sa.insert(sync_outbox), rows)
        unsendable_ids = {action.action_id for action, _ in unsendable}
        moves = [
            (a.action_id, State.QUEUED, "handed to the sync engine", None)
            for a in ready
            if a.action_id not in unsendable_ids
        ]
        self.queue.transition_many(moves, actor=SYNC_ACTOR)
        report.enqueued = len(moves) + len([a for a in orphans if a.action_id not in unsendable_ids])
        for action, why in unsendable:
            if action.state != State.QUEUED:
                self.queue.transition_many([(action.action_id, State.QUEUED, None, None)], actor=SYNC_ACTOR)
            self.queue.transition_many([(action.action_id, State.DEAD_LETTERED, why, None)], actor=SYNC_ACTOR)
            self._log(
                report.run_id, "action", action.action_id, "contacts", None, action.action_type, "dead_lettered", why, 0
            )
            report.dead_lettered += 1

    def _withdraw_suppressed(self, report: SyncReport, suppression, ready: set[str]) -> None:
        """Approved actions whose contact was suppressed after approval never go out: withdrawn, with the reason,
        and counted as stopped at send time (rather than left approved until they expire)."""
        blocked = []
        for action in self.queue.list(states=[State.APPROVED.value], limit=None):
            kind = ACTION_TYPES[action.action_type]
            if action.action_id in ready or not (kind.reaches_contact or kind.customer_facing):
                continue
            why = suppression.reason(action.target_emails or [], action.target_domain)
            if why:
                blocked.append((action, f"the contact was suppressed after approval: {why}"))
        if not blocked:
            return
        self.queue.transition_many(
            [(a.action_id, State.WITHDRAWN, f"Withdrawn at send time: {why}.", None) for a, why in blocked],
            actor=SYNC_ACTOR,
        )
        with self.engine.begin() as con:
            con.execute(
                sa.insert(sync_log),
                [
                    {
                        "at": self.clock(),
                        "run_id": report.run_id,
                        "connection": self.connection,
                        "sync": "action",
                        "action_id": a.action_id,
                        "object_type": "contacts",
                        "record_id": None,
                        "request_kind": a.action_type,
                        "status": "blocked",
                        "message": why,
                        "attempt": 0,
                    }
                    for a, why in blocked
                ],
            )
        for _, why in blocked:
            report.blocked[why.split(":")[0]] += 1

    def _queued_without_outbox(self) -> list[StoredAction]:
        has_row = sa.exists().where(sync_outbox.c.action_id == actions.c.action_id)
        with self.engine.connect() as con:
            rows = con.execute(sa.select(actions).where(actions.c.state == State.QUEUED.value, ~has_row)).mappings()
            return [StoredAction(dict(r)) for r in rows]

    def _outbox_row(self, action: StoredAction, request: CrmRequest, now: datetime) -> dict[str, Any]:
        return {
            "outbox_id": action.action_id,
            "action_id": action.action_id,
            "connection": self.connection,
            "request_kind": request.kind,
            "object_type": request.object_type,
            "record_id": request.record_id,
            "idempotency_key": action.action_id,
            "payload": {"request": request.payload, "approved_payload_hash": action.approved_payload_hash},
            "payload_hash": payload_hash(request.payload),
            "state": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "last_message": None,
            "crm_record_id": None,
            "created_at": now,
            "updated_at": now,
            "sent_at": None,
        }

    def _due(self) -> list[dict[str, Any]]:
        with self.engine.connect() as con:
            rows = con.execute(
                sa.select(sync_outbox)
                .where(
                    sync_outbox.c.connection == self.connection,
                    sync_outbox.c.state.in_(["queued", "retryable"]),
                    sync_outbox.c.next_attempt_at <= self.clock(),
                )
                .order_by(sync_outbox.c.created_at, sync_outbox.c.outbox_id)
            ).mappings()
            return [dict(r) for r in rows]

    def _send_due(self, report: SyncReport, lease: Lease) -> None:
        due = self._due()
        by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in due:
            by_kind[row["request_kind"]].append(row)
        for kind in KINDS:
            rows = by_kind.get(kind, [])
            size = self.writer.batch_limit(kind)
            for start in range(0, len(rows), size):
                if self.kill_switch.state().on:
                    report.stopped_by_kill_switch = True
                    return
                lease.renew()
                self._send_batch(kind, rows[start : start + size], report)

    # ---- last mile ---------------------------------------------------------------------------------
    def _current_actions(self, ids: list[str]) -> dict[str, StoredAction]:
        with self.engine.connect() as con:
            rows = con.execute(sa.select(actions).where(actions.c.action_id.in_(ids))).mappings()
            return {r["action_id"]: StoredAction(dict(r)) for r in rows}

    def _last_mile(self, row: dict[str, Any], action: StoredAction | None, suppression, touches: Counter) -> str | None:
        """Why this row must not be sent now (None: send it)."""
        if action is None or action.state != State.QUEUED:
            return f"the action is {action.state.value if action else 'gone'}, not queued for sending"
        if action.expires_at < self.clock():
            return "it expired before it could be sent"
        if (
            action.approved_payload_hash != payload_hash(action.effective_payload)
            or (row["payload"].get("approved_payload_hash") != action.approved_payload_hash)
            or row["payload_hash"] != payload_hash(row["payload"]["request"])
        ):
            return "the payload is not the one that was approved; it needs a new approval"
        kind = ACTION_TYPES[action.action_type]
        if kind.reaches_contact or kind.customer_facing:
            why = suppression.reason(action.target_emails or [], action.target_domain)
            if why:
                return f"the contact was suppressed after approval: {why}"
        if kind.customer_facing and action.account_id:
            if touches[action.account_id] >= self.policy.caps.per_account_weekly_touches:
                return "the account reached its weekly cap of customer-facing touches"
            touches[action.account_id] += 1
        return None

    def _sent_touches_this_week(self) -> Counter:
        since = self.clock() - timedelta(days=7)
        with self.engine.connect() as con:
            rows = con.execute(
                sa.select(actions.c.account_id, sa.func.count())
                .where(
                    actions.c.customer_facing.is_(True),
                    actions.c.state == State.SENT.value,
                    actions.c.updated_at >= since,
                    actions.c.account_id.is_not(None),
                )
                .group_by(actions.c.account_id)
            ).all()
        return Counter(dict(rows))

    # ---- one batch ---------------------------------------------------------------------------------
    def _send_batch(self, kind: str, batch: list[dict[str, Any]], report: SyncReport) -> None:
        current = self._current_actions([r["action_id"] for r in batch])
        suppression = SuppressionList(self.engine).snapshot()
        touches = self._sent_touches_this_week()
        sendable, blocked = [], []
        for row in batch:
            why = self._last_mile(row, current.get(row["action_id"]), suppression, touches)
            (blocked if why else sendable).append((row, why))
        now = self.clock()
        if blocked:
            with self.engine.begin() as con:
                for row, why in blocked:
                    con.execute(
                        sa.update(sync_outbox)
                        .where(sync_outbox.c.outbox_id == row["outbox_id"])
                        .values(state="blocked", last_message=why, updated_at=now)
                    )
                con.execute(
                    sa.insert(sync_log),
                    [self._log_row(report.run_id, "action", r, "blocked", why, r["attempts"]) for r, why in blocked],
                )
            self.queue.transition_many(
                [(r["action_id"], State.WITHDRAWN, f"Withdrawn at send time: {why}.", None) for r, why in blocked],
                actor=SYNC_ACTOR,
            )
            for _, why in blocked:
                report.blocked[why.split(":")[0]] += 1
        if not sendable:
            return
        rows = [r for r, _ in sendable]
        with self.engine.begin() as con:
            for row in rows:
                con.execute(
                    sa.update(sync_outbox)
                    .where(sync_outbox.c.outbox_id == row["outbox_id"])
                    .values(state="in_flight", attempts=row["attempts"] + 1, updated_at=now)
                )
        requests = [
            CrmRequest(r["action_id"], kind, r["object_type"], r["record_id"], r["payload"]["request"]) for r in rows
        ]
        try:
            outcomes = self.writer.send(kind, requests)
        except CrmAuthenticationError:
            self._set_state(rows, "queued", "the CRM refused the token; nothing was sent", attempts_back=True)
            raise
        except CrmError as exc:
            outcomes = [RowOutcome(r["action_id"], OutcomeStatus.RETRYABLE, message=exc.message) for r in rows]
        self._record(rows, outcomes, report)

    def _set_state(self, rows, state: str, message: str, attempts_back: bool = False) -> None:
        with self.engine.begin() as con:
            for row in rows:
                values = {"state": state, "last_message": message, "updated_at": self.clock()}
                if attempts_back:
                    values["attempts"] = row["attempts"]
                con.execute(sa.update(sync_outbox).where(sync_outbox.c.outbox_id == row["outbox_id"]).values(**values))

    def _record(self, rows: list[dict[str, Any]], outcomes: list[RowOutcome], report: SyncReport) -> None:
        """Commit each row's outcome once the CRM has answered for it (one transaction for the batch)."""
        now = self.clock()
        moves, logs = [], []
        max_attempts = self.policy.sync.max_attempts
        with self.engine.begin() as con:
            for row, outcome in zip(rows, outcomes, strict=True):
                attempt = row["attempts"] + 1
                if outcome.ok:
                    status = "sent"
                    values = {"state": "sent", "sent_at": now, "crm_record_id": outcome.record_id}
                    moves.append((row["action_id"], State.SENT, None, None))
                    report.sent[row["request_kind"]] += 1
                elif outcome.status is OutcomeStatus.RETRYABLE and attempt < max_attempts:
                    status = "retryable"
                    wait = min(self.policy.sync.retry_base_seconds * 2 ** (attempt - 1), 3600)
                    values = {"state": "retryable", "next_attempt_at": now + timedelta(seconds=wait)}
                    report.retryable += 1
                else:
                    status = "dead_lettered"
                    values = {"state": "dead_lettered"}
                    why = outcome.message or "the CRM refused it"
                    if outcome.status is OutcomeStatus.RETRYABLE:
                        why = f"gave up after {attempt} attempts: {why}"
                    moves.append((row["action_id"], State.DEAD_LETTERED, why, None))
                    report.dead_lettered += 1
                con.execute(
                    sa.update(sync_outbox)
                    .where(sync_outbox.c.outbox_id == row["outbox_id"])
                    .values(attempts=attempt, last_message=outcome.message, updated_at=now, **values)
                )
                logs.append(
                    self._log_row(
                        report.run_id,
                        "action",
                        {**row, "attempts": attempt},
                        status,
                        outcome.message,
                        attempt,
                        outcome.record_id,
                    )
                )
            con.execute(sa.insert(sync_log), logs)
        self.queue.transition_many(moves, actor=SYNC_ACTOR)

    # ---- fields ------------------------------------------------------------------------------------
    def _sync_fields(self, report: SyncReport, desired: pl.DataFrame, lease: Lease, object_type: str) -> None:
        changes, unchanged = F.changed_rows(self.engine, self.connection, object_type, desired)
        report.fields_unchanged += unchanged
        known = [c for c in changes if c.previous]
        if known:
            current = self.writer.read_fields(
                object_type, [c.record_id for c in known], list(F.FIELDS_BY_OBJECT[object_type])
            )
            report.fields_kept_for_a_person += F.mark_person_edits(
                known, current, set(self.policy.sync.owned_properties)
            )
        size = self.writer.batch_limit("contact_update")
        for start in range(0, len(changes), size):
            if self.kill_switch.state().on:
                report.stopped_by_kill_switch = True
                return
            lease.renew()
            batch = [c for c in changes[start : start + size] if c.to_write()]
            skipped = [c for c in changes[start : start + size] if not c.to_write()]
            F.confirm(self.engine, self.connection, object_type, skipped)
            if not batch:
                continue
            try:
                outcomes = self.writer.write_fields(object_type, [(c.record_id, c.to_write()) for c in batch])
            except CrmError as exc:
                outcomes = [RowOutcome(c.record_id, OutcomeStatus.RETRYABLE, message=exc.message) for c in batch]
            ok = [c for c, o in zip(batch, outcomes, strict=True) if o.ok]
            rejected = [c for c, o in zip(batch, outcomes, strict=True) if o.status is OutcomeStatus.REJECTED]
            F.confirm(self.engine, self.connection, object_type, ok)
            F.confirm(self.engine, self.connection, object_type, rejected, rejected=True)
            report.fields_sent += len(ok)
            report.fields_sent_by_object[object_type] += len(ok)
            report.fields_failed += len(batch) - len(ok)
            with self.engine.begin() as con:
                con.execute(
                    sa.insert(sync_log),
                    [
                        {
                            "at": self.clock(),
                            "run_id": report.run_id,
                            "connection": self.connection,
                            "sync": "field",
                            "action_id": None,
                            "object_type": object_type,
                            "record_id": c.record_id,
                            "request_kind": "field_update",
                            "status": "sent" if o.ok else o.status.value,
                            "message": o.message,
                            "attempt": 1,
                            "model_version": c.values.get("actionhouse_model_version"),
                        }
                        for c, o in zip(batch, outcomes, strict=True)
                    ],
                )

    # ---- dry run -----------------------------------------------------------------------------------
    def _dry_run(
        self, report: SyncReport, desired_by_object: dict[str, pl.DataFrame], send_actions: bool = True
    ) -> None:
        """What a run would send, per row, with the CRM's current values beside the new ones; writes nothing."""
        suppression = SuppressionList(self.engine).snapshot()
        if self.kill_switch.state().on:
            report.stopped_by_kill_switch = True
        ready = self.queue.executable(kill_switch_on=False, suppression=suppression) if send_actions else []
        touches = self._sent_touches_this_week()
        for action in ready:
            try:
                request = build_request(action, self.policy.routing.nurture_owner)
            except Unsendable as why:
                report.rows.append({"action_id": action.action_id, "would": "dead-letter", "why": str(why)})
                continue
            row = {
                "payload": {"request": request.payload, "approved_payload_hash": action.approved_payload_hash},
                "payload_hash": payload_hash(request.payload),
            }
            queued_view = StoredAction({**action.row, "state": State.QUEUED.value})
            why = self._last_mile(row, queued_view, suppression, touches)
            report.rows.append(
                {
                    "action_id": action.action_id,
                    "action_type": action.action_type,
                    "record_id": request.record_id,
                    "would": "block" if why else "send",
                    "why": why,
                    **self.writer.describe(request),
                }
            )
        for object_type, desired in desired_by_object.items():
            self._dry_run_fields(report, desired, object_type)

    def _dry_run_fields(self, report: SyncReport, desired: pl.DataFrame, object_type: str) -> None:
        changes, unchanged = F.changed_rows(self.engine, self.connection, object_type, desired)
        report.fields_unchanged += unchanged
        current = (
            self.writer.read_fields(object_type, [c.record_id for c in changes], list(F.FIELDS_BY_OBJECT[object_type]))
            if changes
            else {}
        )
        F.mark_person_edits([c for c in changes if c.previous], current, set(self.policy.sync.owned_properties))
        for change in changes:
            now = current.get(change.record_id, {})
            report.rows.append(
                {
                    "object_type": object_type,
                    "record_id": change.record_id,
                    "would": "update fields",
                    "changes": {
                        k: {"crm": now.get(k), "new": v} for k, v in change.to_write().items() if now.get(k) != v
                    },
                    "kept_for_a_person": sorted(change.kept),
                }
            )
        would = len([c for c in changes if c.to_write()])
        report.fields_sent += would
        report.fields_sent_by_object[object_type] += would

    # ---- log ---------------------------------------------------------------------------------------
    def _log_row(
        self,
        run_id: str,
        sync: str,
        row: dict[str, Any],
        status: str,
        message: str | None,
        attempt: int,
        record_id: str | None = None,
    ) -> dict[str, Any]:
        return {
            "at": self.clock(),
            "run_id": run_id,
            "connection": self.connection,
            "sync": sync,
            "action_id": row["action_id"],
            "object_type": row["object_type"],
            "record_id": record_id or row["record_id"],
            "request_kind": row["request_kind"],
            "status": status,
            "message": message,
            "attempt": attempt,
        }

    def _log(self, run_id, sync, action_id, object_type, record_id, kind, status, message, attempt) -> None:
        with self.engine.begin() as con:
            con.execute(
                sa.insert(sync_log).values(
                    at=self.clock(),
                    run_id=run_id,
                    connection=self.connection,
                    sync=sync,
                    action_id=action_id,
                    object_type=object_type,
                    record_id=record_id,
                    request_kind=kind,
                    status=status,
                    message=message,
                    attempt=attempt,
                )
            )
