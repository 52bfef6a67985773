"""Decision queue: actions, their append-only audit log, the suppression list, the kill switch, planner runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = ("action_events", "suppressions", "kill_switch_events")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "actions",
        sa.Column("action_id", sa.String(64), primary_key=True),
        sa.Column("slot_key", sa.String(64), nullable=False),
        sa.Column("evidence_window", sa.String(200), nullable=False),
        sa.Column("workflow", sa.String(40), nullable=False),
        sa.Column("action_type", sa.String(40), nullable=False),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(80), nullable=False),
        sa.Column("target_label", sa.Text),
        sa.Column("target_crm_ids", sa.JSON, nullable=False),
        sa.Column("target_emails", sa.JSON, nullable=False),
        sa.Column("target_domain", sa.String(255)),
        sa.Column("account_id", sa.String(80)),
        sa.Column("owner", sa.String(120)),
        sa.Column("approver_group", sa.String(60)),
        sa.Column("risk_class", sa.String(10), nullable=False),
        sa.Column("customer_facing", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
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
        _ts("as_of"),
        _ts("proposed_at"),
        _ts("expires_at"),
        sa.Column("decided_by", sa.String(120)),
        _ts("decided_at", nullable=True),
        sa.Column("decision_note", sa.Text),
        _ts("updated_at"),
        sa.Column("run_id", sa.String(64)),
        sa.Column("row_version", sa.Integer, nullable=False),
    )
    for column in ("slot_key", "workflow", "target_id", "account_id", "owner", "state"):
        op.create_index(f"ix_actions_{column}", "actions", [column])

    op.create_table(
        "action_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("action_id", sa.String(64), sa.ForeignKey("actions.action_id"), nullable=False),
        _ts("at"),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("event", sa.String(30), nullable=False),
        sa.Column("from_state", sa.String(20)),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("payload_before", sa.JSON),
        sa.Column("payload_after", sa.JSON),
    )
    op.create_index("ix_action_events_action_id", "action_events", ["action_id"])

    op.create_table(
        "suppressions",
        sa.Column("suppression_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("value", sa.String(320), nullable=False),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("evidence", sa.JSON),
        sa.Column("added_by", sa.String(120), nullable=False),
        _ts("added_at"),
    )
    op.create_index("ix_suppressions_value", "suppressions", ["value"])

    op.create_table(
        "kill_switch_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("state", sa.String(3), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        _ts("at"),
    )

    op.create_table(
        "planner_runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        _ts("started_at"),
        _ts("finished_at", nullable=True),
        _ts("as_of", nullable=True),
        sa.Column("policy_version", sa.String(80), nullable=False),
        sa.Column("summary", sa.JSON),
    )
    _refuse_changes(APPEND_ONLY)


def _refuse_changes(tables) -> None:
    """Database triggers that refuse UPDATE and DELETE: the audit log, suppressions and kill-switch history
    are kept forever, whatever code (or person with a SQL prompt) touches the store."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION actionhouse_refuse_change() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only: rows are never changed or deleted', TG_TABLE_NAME; END; "
            "$$ LANGUAGE plpgsql"
        )
        for table in tables:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION actionhouse_refuse_change()"
            )
    elif dialect == "sqlite":
        for table in tables:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: rows are never changed or deleted'); END"
                )
    # Other backends: the library never updates these tables; no trigger syntax is assumed.


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        elif dialect == "sqlite":
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    for table in ("planner_runs", "kill_switch_events", "suppressions", "action_events", "actions"):
        op.drop_table(table)
