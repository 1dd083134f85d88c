"""PostgreSQL: NOTIFY startklaar_sessions when a session or profile changes (plan fast-path cache)

Each API process caches, for a few seconds, what GET /api/me/plan reads about a session (backend/checklists/
fastpath.py). Triggers tell every process when that changes, whoever changes it: a logout, a profile change or
tick (the profile's revision), an account deleted by the retention job, a restore. SQLite has one process per
database file in practice and no cache, so nothing there.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 18:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("auth_session", "user_profile")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION startklaar_notify_session_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'TRUNCATE' THEN
                PERFORM pg_notify('startklaar_sessions', '*');
            ELSE
                PERFORM pg_notify('startklaar_sessions', OLD.user_id::text);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_notify AFTER UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION startklaar_notify_session_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_notify_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION startklaar_notify_session_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS startklaar_notify_session_change()")
