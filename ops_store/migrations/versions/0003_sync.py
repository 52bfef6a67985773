"""Sync engine: the outbox of approved actions, the ledger of what the CRM confirmed, the per-row sync log
(append-only) and one lease per CRM connection.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "sync_outbox",
        sa.Column("outbox_id", sa.String(80), primary_key=True),
        sa.Column("action_id", sa.String(64), sa.ForeignKey("actions.action_id"), nullable=False),
        sa.Column("connection", sa.String(200), nullable=False),
        sa.Column("request_kind", sa.String(40), nullable=False),
        sa.Column("object_type", sa.String(40), nullable=False),
        sa.Column("record_id", sa.String(80)),
        sa.Column("idempotency_key", sa.String(80), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _ts("next_attempt_at"),
        sa.Column("last_message", sa.Text),
        sa.Column("crm_record_id", sa.String(80)),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("sent_at", nullable=True),
    )
    op.create_index("ix_sync_outbox_state", "sync_outbox", ["connection", "state"])
    op.create_index("ix_sync_outbox_action_id", "sync_outbox", ["action_id"])

    op.create_table(
        "sync_ledger",
        sa.Column("connection", sa.String(200), primary_key=True),
        sa.Column("object_type", sa.String(40), primary_key=True),
        sa.Column("record_id", sa.String(80), primary_key=True),
        sa.Column("values_hash", sa.String(64), nullable=False),
        sa.Column("values", sa.JSON, nullable=False),
        _ts("confirmed_at"),
    )

    op.create_table(
        "sync_log",
        sa.Column("log_id", sa.Integer, primary_key=True, autoincrement=True),
        _ts("at"),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("connection", sa.String(200), nullable=False),
        sa.Column("sync", sa.String(10), nullable=False),
        sa.Column("action_id", sa.String(64)),
        sa.Column("object_type", sa.String(40), nullable=False),
        sa.Column("record_id", sa.String(80)),
        sa.Column("request_kind", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("model_version", sa.String(80)),
    )
    op.create_index("ix_sync_log_action_id", "sync_log", ["action_id"])
    op.create_index("ix_sync_log_run_id", "sync_log", ["run_id"])

    op.create_table(
        "sync_leases",
        sa.Column("connection", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(120), nullable=False),
        _ts("acquired_at"),
        _ts("expires_at"),
    )

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE TRIGGER sync_log_append_only BEFORE UPDATE OR DELETE ON sync_log "
            "FOR EACH ROW EXECUTE FUNCTION actionhouse_refuse_change()"
        )
    elif dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER sync_log_no_{verb.lower()} BEFORE {verb} ON sync_log "
                "BEGIN SELECT RAISE(ABORT, 'sync_log is append-only: rows are never changed or deleted'); END"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS sync_log_append_only ON sync_log")
    elif dialect == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS sync_log_no_{verb}")
    for table in ("sync_leases", "sync_log", "sync_ledger", "sync_outbox"):
        op.drop_table(table)
