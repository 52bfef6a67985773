"""Console: local accounts (name, role, password hash) people sign in with.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_users",
        # The name a person signs in with; the same name the policy's approver groups list.
        sa.Column("username", sa.String(120), primary_key=True),
        sa.Column("role", sa.String(10), nullable=False),  # viewer | approver | admin
        # An argon2id hash in PHC form (salt and parameters inside); never the password.
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        # Sessions signed before this time are refused (set when the password or role changes).
        sa.Column("sessions_valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("console_users")
