"""CRM read cursors (the table API ingestion kept before the store had migrations).

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Stores made before migrations already hold this table (created by the cursor store itself): keep it.
    if sa.inspect(op.get_bind()).has_table("crm_read_cursors"):
        return
    op.create_table(
        "crm_read_cursors",
        sa.Column("connection", sa.String(200), primary_key=True),
        sa.Column("object_type", sa.String(60), primary_key=True),
        sa.Column("cursor", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("crm_read_cursors")
