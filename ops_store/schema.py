"""Tables of the operational store, for SQLAlchemy Core queries.

The database schema itself is made by the Alembic migrations (`ops_store/migrations/versions/`); a test checks
that these definitions and the migrated database agree. Times are stored in UTC and come back zone-aware.
"""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa

from ops_store.clock import utc_now as utc_now  # the operational clock, re-exported for the store's users


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored in UTC that always comes back zone-aware (SQLite keeps no zone of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("operational store times must be zone-aware (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

crm_read_cursors = sa.Table(
    "crm_read_cursors",
    metadata,
    sa.Column("connection", sa.String(200), primary_key=True),  # e.g. "hubspot@127.0.0.1:8765" (never a token)
    sa.Column("object_type", sa.String(60), primary_key=True),
    sa.Column("cursor", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

actions = sa.Table(
    "actions",
    metadata,
    sa.Column("action_id", sa.String(64), primary_key=True),
    # The decision slot: workflow + target + action type + evidence window. One live or decided action per slot.
    sa.Column("slot_key", sa.String(64), nullable=False, index=True),
    sa.Column("evidence_window", sa.String(200), nullable=False),
    sa.Column("workflow", sa.String(40), nullable=False, index=True),
    sa.Column("action_type", sa.String(40), nullable=False),
    sa.Column("target_kind", sa.String(16), nullable=False),
    sa.Column("target_id", sa.String(80), nullable=False, index=True),
    sa.Column("target_label", sa.Text),
    sa.Column("target_crm_ids", sa.JSON, nullable=False),
    sa.Column("target_emails", sa.JSON, nullable=False),
    sa.Column("target_domain", sa.String(255)),
    sa.Column("account_id", sa.String(80), index=True),
    sa.Column("owner", sa.String(120), index=True),
    sa.Column("approver_group", sa.String(60)),
    sa.Column("risk_class", sa.String(10), nullable=False),
    sa.Column("customer_facing", sa.Boolean, nullable=False),
    sa.Column("state", sa.String(20), nullable=False, index=True),
    sa.Column("state_reason", sa.Text),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("payload_hash", sa.String(64), nullable=False),
    sa.Column("edited_payload", sa.JSON),
    sa.Column("approved_payload_hash", sa.String(64)),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("policy_verdicts", sa.JSON, nullable=False),
    sa.Column("model_version", sa.String(80)),
    sa.Column("policy_version", sa.String(80), nullable=False),
    sa.Column("kpi", sa.Text, nullable=False),
    sa.Column("as_of", UTCDateTime, nullable=False),
    sa.Column("proposed_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("decided_by", sa.String(120)),
    sa.Column("decided_at", UTCDateTime),
    sa.Column("decision_note", sa.Text),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.String(64)),
    # Bumped by every change: a decision made on a stale read loses (optimistic concurrency).
    sa.Column("row_version", sa.Integer, nullable=False),
)

action_events = sa.Table(
    "action_events",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("action_id", sa.String(64), sa.ForeignKey("actions.action_id"), nullable=False, index=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(120), nullable=False),
    sa.Column("event", sa.String(30), nullable=False),
    sa.Column("from_state", sa.String(20)),
    sa.Column("to_state", sa.String(20), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("payload_before", sa.JSON),
    sa.Column("payload_after", sa.JSON),
)

suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("suppression_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(10), nullable=False),  # email | domain
    sa.Column("value", sa.String(320), nullable=False, index=True),
    sa.Column("scope", sa.String(20), nullable=False),  # all | prospecting
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("evidence", sa.JSON),
    sa.Column("added_by", sa.String(120), nullable=False),
    sa.Column("added_at", UTCDateTime, nullable=False),
)

kill_switch_events = sa.Table(
    "kill_switch_events",
    metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("state", sa.String(3), nullable=False),  # on | off
    sa.Column("actor", sa.String(120), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
)

planner_runs = sa.Table(
    "planner_runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("as_of", UTCDateTime),
    sa.Column("policy_version", sa.String(80), nullable=False),
    sa.Column("summary", sa.JSON),
)

sync_outbox = sa.Table(
    "sync_outbox",
    metadata,
    # One row per approved action handed to the sync engine; its id is the action id (the idempotency key the
    # CRM side carries as `actionhouse_id`). Its state changes only after the CRM's answer for the row is known.
    sa.Column("outbox_id", sa.String(80), primary_key=True),
    sa.Column("action_id", sa.String(64), sa.ForeignKey("actions.action_id"), nullable=False, index=True),
    sa.Column("connection", sa.String(200), nullable=False),
    sa.Column("request_kind", sa.String(40), nullable=False),
    sa.Column("object_type", sa.String(40), nullable=False),
    sa.Column("record_id", sa.String(80)),
    sa.Column("idempotency_key", sa.String(80), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("payload_hash", sa.String(64), nullable=False),
    # queued | in_flight | sent | retryable | dead_lettered | blocked
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_message", sa.Text),
    sa.Column("crm_record_id", sa.String(80)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.Index("ix_sync_outbox_state", "connection", "state"),
)

sync_ledger = sa.Table(
    "sync_ledger",
    metadata,
    # What the CRM acknowledged for each record's synced fields (never what was merely attempted).
    sa.Column("connection", sa.String(200), primary_key=True),
    sa.Column("object_type", sa.String(40), primary_key=True),
    sa.Column("record_id", sa.String(80), primary_key=True),
    sa.Column("values_hash", sa.String(64), nullable=False),
    sa.Column("values", sa.JSON, nullable=False),
    sa.Column("confirmed_at", UTCDateTime, nullable=False),
)

sync_log = sa.Table(
    "sync_log",
    metadata,
    # Every attempt, one row per record: append-only.
    sa.Column("log_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("connection", sa.String(200), nullable=False),
    sa.Column("sync", sa.String(10), nullable=False),  # action | field
    sa.Column("action_id", sa.String(64), index=True),
    sa.Column("object_type", sa.String(40), nullable=False),
    sa.Column("record_id", sa.String(80)),
    sa.Column("request_kind", sa.String(40), nullable=False),
    # sent | retryable | rejected | dead_lettered | blocked
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("attempt", sa.Integer, nullable=False),
    # Field syncs: the model version of the scores written (actions carry theirs on the action row).
    sa.Column("model_version", sa.String(80)),
)

sync_leases = sa.Table(
    "sync_leases",
    metadata,
    # One sync at a time per CRM connection; a holder that stops renewing loses it at `expires_at`.
    sa.Column("connection", sa.String(200), primary_key=True),
    sa.Column("holder", sa.String(120), nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

console_users = sa.Table(
    "console_users",
    metadata,
    sa.Column("username", sa.String(120), primary_key=True),
    sa.Column("role", sa.String(10), nullable=False),  # viewer | approver | admin
    sa.Column("password_hash", sa.Text, nullable=False),  # argon2id, PHC form
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("sessions_valid_from", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Tables whose rows are never changed or deleted once written (database triggers refuse it).
APPEND_ONLY_TABLES = ("action_events", "suppressions", "kill_switch_events", "sync_log")
