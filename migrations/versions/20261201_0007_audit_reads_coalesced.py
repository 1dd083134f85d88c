"""Audit log: a mentor's repeated reads within one 10-minute window are one entry that counts them

read_slot numbers the window (reads only; other actions keep NULL and are never merged), the unique index
uq_audit_read makes parallel reads end up in one entry (INSERT ... ON CONFLICT DO UPDATE), times counts the
reads and last_at is the last one. Existing entries stay as they are (one read each).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("read_slot", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("times", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("last_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index(
            "uq_audit_read", ["subject_id", "actor_id", "action", "detail", "read_slot"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("uq_audit_read")
        batch_op.drop_column("last_at")
        batch_op.drop_column("times")
        batch_op.drop_column("read_slot")
