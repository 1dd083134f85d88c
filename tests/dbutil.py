"""Throw-away databases for tests: creating, emptying and dropping them, and the settings of a test app."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine, make_url

from backend.config import Settings

PG_URL = os.environ.get("STARTKLAAR_TEST_POSTGRES_URL", "")
TEST_SECRET = "test-secret-" + "x" * 40
# Tables that hold reference data, kept between tests; every other table is emptied before each test.
REFERENCE_TABLES = {"alembic_version", "gemeente"}


def app_settings(database_url: str, data_dir: Path) -> Settings:
    """The settings of an app under test: no embedded worker, a fixed secret, plain http on localhost."""
    return Settings(
        env="test",
        data_dir=data_dir,
        database_url=database_url,
        secret_key=TEST_SECRET,
        embedded_worker=False,
        base_url="http://localhost",
    )


def empty_pg_tables(url: str) -> None:
    """Empty every table but the reference data (as isolated as a new database, and much faster)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        names = [t for t in inspect(conn).get_table_names() if t not in REFERENCE_TABLES]
        if names:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


def _pg_admin() -> Engine:
    return create_engine(make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")


def create_pg_database(template: str | None = None) -> str:
    name = f"sk_test_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
