"""Profile: the gemeente where the jongere will live after leaving care (optional; NULL = the same one)

Bijstand, briefadres, huurtoeslag, verhuizing and the local help on those steps use it (issue 12).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_profile", schema=None) as batch_op:
        batch_op.add_column(sa.Column("future_gemeente_code", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=True))
        batch_op.create_foreign_key(
            "fk_user_profile_future_gemeente", "gemeente", ["future_gemeente_code"], ["code"]
        )


def downgrade() -> None:
    with op.batch_alter_table("user_profile", schema=None) as batch_op:
        batch_op.drop_constraint("fk_user_profile_future_gemeente", type_="foreignkey")
        batch_op.drop_column("future_gemeente_code")
